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
args: check 496298-461032-321465-595518-463221-173943-033616-139579
exit: 1
stdout-has: block 3 "321465": not a multiple of 11; did you mean 321464?
stderr-lines: 0

=== two swapped digits: the swap comes first
args: check 496298-461032-321464-595518-463221-173943-033616-135979
exit: 1
stdout-has: block 8 "135979": not a multiple of 11; did you mean 139579?

=== a block too large
args: check 496298-720896-321464-595518-463221-173943-033616-139579
exit: 1
stdout-has: block 2 "720896": too large

=== one invalid among valid ones still fails, one line each
args: check 496298-461032-321464-595518-463221-173943-033616-139579 496298-461032-321465-595518-463221-173943-033616-139579
exit: 1
stdout-has: valid
stdout-has: invalid: block 3

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
stdout-has: "input":"496298-461032-321465-595518-463221-173943-033616-139579"
stdout-has: "valid":false,"password":"496298-461032-321465-595518-463221-173943-033616-139579"
stdout-has: {"index":3,"digits":"321465","valid":false,"error":"not a multiple of 11","suggestions":["321464",
stdout-has: {"index":1,"digits":"496298","valid":true,"error":null,"suggestions":[]}

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
stdout-has: "valid":true,"password":"496298-461032-321464-595518-463221-173943-033616-139579"

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

=== unknown command
args: frobnicate
exit: 2
stderr-has: 'frobnicate' is not a bdekey command
