# lookup's usage errors: caught before any directory is contacted.

=== neither --device nor --key-id
args: lookup --source ad --ldap-uri ldap://127.0.0.1:9
exit: 2
stderr-has: give --device, --key-id, or both

=== malformed key IDs are usage errors
args: lookup --key-id 1A2B3C --ldap-uri ldap://127.0.0.1:9
exit: 2
stderr-has: bdekey: lookup: key ID '1A2B3C': need at least the first 8 hex digits

=== a key ID with filter characters
args: lookup --key-id "1A2B3C4D*)(" --ldap-uri ldap://127.0.0.1:9
exit: 2
stderr-has: '*' is not a hex digit

=== a key ID with a misplaced dash
args: lookup --key-id 1A2B-3C4D --ldap-uri ldap://127.0.0.1:9
exit: 2
stderr-has: misplaced '-'

=== no directory configured
# the runner's clean HOME keeps ~/.ldaprc out; an empty LDAPURI also
# overrides a URI in the system's /etc/ldap/ldap.conf
args: lookup --device PC1
env: LDAPCONF=/dev/null
env: LDAPURI=
exit: 2
stderr-has: no directory configured

=== --source graph without a tenant
args: lookup --device PC1 --source graph
exit: 2
stderr-has: no Entra tenant configured

=== bad --source
args: lookup --device PC1 --source ldap
exit: 2
stderr-has: source 'ldap' is not ad, graph, all or keyvault

=== --read-out with --json
args: lookup --device PC1 --read-out --json --ldap-uri ldap://127.0.0.1:9
exit: 2
stderr-has: --read-out and --json do not go together

=== require_reason stops --show without --reason
args: lookup --device PC1 --show --ldap-uri ldap://127.0.0.1:9
env: BDEKEY_REQUIRE_REASON=yes
exit: 2
stderr-has: a --reason (e.g. the ticket number) is required

=== an unexpected operand
args: lookup --device PC1 extra
exit: 2
stderr-has: unexpected argument 'extra'

=== libldap's own LDAPURI is honoured when bdekey has no URI
args: lookup --device PC1 --timeout 2
env: LDAPURI=ldap://127.0.0.1:9
exit: 4
stderr-has: bdekey: ad: ldap://127.0.0.1:9: cannot connect

=== libldap's built-in default (ldap://localhost) is not a configuration
args: config
env: LDAPURI=
exit: 0
stdout-has: # uri: none: AD is not searched

=== exit precedence: an auth failure beats an unreachable directory
# AD cannot be reached (4), Entra ID has no sign-in (3): the answer is 3,
# whichever directory answers first
args: lookup --device PC1 --ldap-uri ldap://127.0.0.1:9 --timeout 2
env: BDEKEY_TENANT=contoso.test
env: BDEKEY_GRAPH=https://127.0.0.1:9/graph
env: BDEKEY_AUTHORITY=https://127.0.0.1:9/auth
exit: 3
stdout:
stderr-has: bdekey: ad: ldap://127.0.0.1:9: cannot connect
stderr-has: bdekey: graph: not signed in to tenant 'contoso.test': run 'bdekey login'

=== exit precedence in JSON: both errors, each with its kind
args: lookup --device PC1 --ldap-uri ldap://127.0.0.1:9 --timeout 2 --json
env: BDEKEY_TENANT=contoso.test
env: BDEKEY_GRAPH=https://127.0.0.1:9/graph
env: BDEKEY_AUTHORITY=https://127.0.0.1:9/auth
exit: 3
stdout:
| {"query":{"device":"PC1","key_id":null,"source":"auto","show":false},"keys":[],"errors":[{"source":"ad","kind":"unreachable","message":"ldap://127.0.0.1:9: cannot connect: can't contact LDAP server"},{"source":"graph","kind":"auth","message":"not signed in to tenant 'contoso.test': run 'bdekey login'"}]}
