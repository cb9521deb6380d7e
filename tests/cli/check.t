# bdekey check: the contract of issue 2 (human output, JSON Lines, stdin,
# exit statuses 0 valid / 1 invalid / 2 usage).

=== Microsoft's first published example is valid
args: check 496298-461032-321464-595518-463221-173943-033616-139579
exit: 0
stdout:
| valid

=== both examples, blanks and 48 digits in a row
args: check "158422 038236 492536 574783 256300 205084 114356 069773" 496298461032321464595518463221173943033616139579
exit: 0
stdout:
| valid
| valid

=== a misheard digit names the block and suggests the fix
# every valid block one digit or one adjacent swap away, most likely first
args: check 496298-461032-321465-595518-463221-173943-033616-139579
exit: 1
stdout:
| invalid: block 3 "321465": not a multiple of 11; did you mean 321464? (6 candidates: 321464 321475 321365 322465 311465 421465)
stderr-lines: 0

=== two swapped digits: the swap comes first
args: check 496298-461032-321464-595518-463221-173943-033616-135979
exit: 1
stdout:
| invalid: block 8 "135979": not a multiple of 11; did you mean 139579? (6 candidates: 139579 135971 135949 135179 132979 165979)

=== a block too large
args: check 496298-720896-321464-595518-463221-173943-033616-139579
exit: 1
stdout:
| invalid: block 2 "720896": too large (a block is below 720896)

=== one invalid among valid ones still fails, one line each
# exact: 'stdout-has: valid' would also match the 'invalid:' line
args: check 496298-461032-321464-595518-463221-173943-033616-139579 496298-461032-321465-595518-463221-173943-033616-139579
exit: 1
stdout:
| valid
| invalid: block 3 "321465": not a multiple of 11; did you mean 321464? (6 candidates: 321464 321475 321365 322465 311465 421465)

=== the order of the answers is the order of the passwords
args: check 496298-461032-321465-595518-463221-173943-033616-139579 496298-461032-321464-595518-463221-173943-033616-139579
exit: 1
stdout:
| invalid: block 3 "321465": not a multiple of 11; did you mean 321464? (6 candidates: 321464 321475 321365 322465 311465 421465)
| valid

=== letters are named with their position
args: check 496298-461032-32a464-595518-463221-173943-033616-139579
exit: 1
stdout:
| invalid: unexpected character 'a' at position 17

=== seven blocks
args: check 496298-461032-321464-595518-463221-173943-033616
exit: 1
stdout:
| invalid: 7 blocks, expected 8

=== a five-digit block
args: check 496298-461032-32146-595518-463221-173943-033616-139579
exit: 1
stdout:
| invalid: block 3 has 5 digits, expected 6 (position 15)

=== wrong separators
args: check 496298/461032/321464/595518/463221/173943/033616/139579
exit: 1
stdout:
| invalid: unexpected character '/' at position 7

=== stdin: one password a line, blank and CRLF lines handled
args: check -
stdin:
| 496298-461032-321464-595518-463221-173943-033616-139579
| 158422-038236-492536-574783-256300-205084-114356-069773
|
exit: 1
stdout:
| valid
| valid
| invalid: empty password

=== stdin all valid
args: check -
stdin:
| 496298-461032-321464-595518-463221-173943-033616-139579
exit: 0
stdout:
| valid

=== JSON Lines: the fields of the contract
args: check --json 496298-461032-321465-595518-463221-173943-033616-139579
exit: 1
stdout:
| {"input":"496298-461032-321465-595518-463221-173943-033616-139579","valid":false,"password":"496298-461032-321465-595518-463221-173943-033616-139579","error":null,"blocks":[{"index":1,"digits":"496298","valid":true,"error":null,"suggestions":[]},{"index":2,"digits":"461032","valid":true,"error":null,"suggestions":[]},{"index":3,"digits":"321465","valid":false,"error":"not a multiple of 11","suggestions":["321464","321475","321365","322465","311465","421465"]},{"index":4,"digits":"595518","valid":true,"error":null,"suggestions":[]},{"index":5,"digits":"463221","valid":true,"error":null,"suggestions":[]},{"index":6,"digits":"173943","valid":true,"error":null,"suggestions":[]},{"index":7,"digits":"033616","valid":true,"error":null,"suggestions":[]},{"index":8,"digits":"139579","valid":true,"error":null,"suggestions":[]}]}

=== JSON for an unparseable line: password null, blocks empty
args: check --json -
stdin:
| 49629x "quoted" \ back
exit: 1
stdout:
| {"input":"49629x \"quoted\" \\ back","valid":false,"password":null,"error":"unexpected character 'x' at position 6","position":6,"blocks":[]}

=== JSON normalizes 48 digits in a row
args: check --json 496298461032321464595518463221173943033616139579
exit: 0
stdout-has: {"input":"496298461032321464595518463221173943033616139579","valid":true,"password":"496298-461032-321464-595518-463221-173943-033616-139579","error":null,"blocks":[{"index":1,"digits":"496298","valid":true,"error":null,"suggestions":[]},
stdout-lacks: "valid":false

=== no password is a usage error
args: check
exit: 2
stderr-has: bdekey: check: no password given

=== '-' with other operands is a usage error
args: check - 496298-461032-321464-595518-463221-173943-033616-139579
exit: 2
stderr-has: '-' must be the only operand

=== unknown option
args: check --frobnicate
exit: 2
stderr-has: option '--frobnicate' is unknown

=== help for the command
args: check --help
exit: 0
stdout-has: usage: bdekey check [--json] PASSWORD...
stdout-has: --json

=== help command and version
args: help check
exit: 0
stdout-has: usage: bdekey check

=== version
args: --version
exit: 0
stdout-has: bdekey 0.
stderr-lines: 0

=== unknown command
args: frobnicate
exit: 2
stderr-has: 'frobnicate' is not a bdekey command
