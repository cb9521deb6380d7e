# The config file (issue 5): sections, precedence, errors with file:line,
# `bdekey config` showing each setting's origin and never a secret.

=== config shows each value and where it came from
args: config --config tests/cli/data/good.conf
exit: 0
stdout-has: # config file: tests/cli/data/good.conf
stdout-has: uri = ldap://dc1.example.test, ldap://dc2.example.test  # tests/cli/data/good.conf:3
stdout-has: page_size = 250  # tests/cli/data/good.conf:5
stdout-has: tenant = contoso.test  # tests/cli/data/good.conf:8
stdout-has: log = /tmp/bdekey audit.jsonl  # tests/cli/data/good.conf:12
stdout-has: require_reason = yes  # tests/cli/data/good.conf:13
stdout-has: # client_id: 14d82eec-204b-4c2f-b7e8-296a70dab67e

=== the environment beats the config file, options beat the environment
args: config --config tests/cli/data/good.conf --tenant from-option.test
env: BDEKEY_LDAP_URI=ldaps://from-env.test
env: BDEKEY_TENANT=from-env.test
env: BDEKEY_LDAP_MECH=GSSAPI
exit: 0
stdout-has: uri = ldaps://from-env.test  # BDEKEY_LDAP_URI
stdout-has: mech = GSSAPI  # BDEKEY_LDAP_MECH
stdout-has: tenant = from-option.test  # option --tenant
stdout-has: page_size = 250  # tests/cli/data/good.conf:5

=== BDEKEY_CONFIG names the file
args: config
env: BDEKEY_CONFIG=tests/cli/data/good.conf
exit: 0
stdout-has: tenant = contoso.test  # tests/cli/data/good.conf:8

=== the default file under XDG_CONFIG_HOME; none is fine
args: config
env: XDG_CONFIG_HOME=/nonexistent
exit: 0
stdout-has: # config file: none found

=== a named config file that does not exist is an error
args: config --config tests/cli/data/missing.conf
exit: 2
stderr-has: bdekey: cannot open config file 'tests/cli/data/missing.conf': No such file or directory

=== unknown key: file and line
args: config --config tests/cli/data/unknown-key.conf
exit: 2
stderr-has: bdekey: tests/cli/data/unknown-key.conf:5: unknown key 'frobnicate' in [graph]
stderr-lines: 1

=== unknown section: file and line
args: config --config tests/cli/data/unknown-section.conf
exit: 2
stderr-has: tests/cli/data/unknown-section.conf:4: unknown section '[ladp]'

=== bad number: file and line
args: config --config tests/cli/data/bad-number.conf
exit: 2
stderr-has: tests/cli/data/bad-number.conf:2: page_size 'lots' is not a number from 1 to 100000

=== bad boolean
args: config --config tests/cli/data/bad-bool.conf
exit: 2
stderr-has: tests/cli/data/bad-bool.conf:2: starttls 'maybe' is not yes or no

=== key outside any section
args: config --config tests/cli/data/no-section.conf
exit: 2
stderr-has: tests/cli/data/no-section.conf:1: 'uri' is outside any section

=== line without =
args: config --config tests/cli/data/no-equals.conf
exit: 2
stderr-has: tests/cli/data/no-equals.conf:2: expected 'key = value'

=== a URI that is not LDAP
args: config --config tests/cli/data/bad-uri.conf
exit: 2
stderr-has: tests/cli/data/bad-uri.conf:2: LDAP URI 'http://x' is not ldap://

=== bad value from the environment names the variable
args: config
env: BDEKEY_CLOUD=mars
exit: 2
stderr-has: bdekey: BDEKEY_CLOUD: cloud 'mars' is not global, usgov, dod or china

=== secrets are never printed, only their files
# A sentinel in each secret file, mode 0600 so that a config that read
# them could: the file names are shown, the contents never.
file: ldap.pass 0600
| SENTINEL-ldap-password-7f3a9c
file: client.secret 0600
| SENTINEL-client-secret-51be02
file: client.key 0600
| SENTINEL-client-key-c4d8e1
args: config --client-secret-file ${CASEDIR}/client.secret --client-key ${CASEDIR}/client.key
env: BDEKEY_LDAP_PASSWORD_FILE=${CASEDIR}/ldap.pass
exit: 0
stdout-line: password_file = ${CASEDIR}/ldap.pass  # BDEKEY_LDAP_PASSWORD_FILE
stdout-line: client_secret_file = ${CASEDIR}/client.secret  # option --client-secret-file
stdout-line: client_key = ${CASEDIR}/client.key  # option --client-key
stdout-lacks: SENTINEL
stderr-lacks: SENTINEL

=== secrets named in the config file are never printed either
file: ldap.pass 0600
| SENTINEL-ldap-password-7f3a9c
file: client.secret 0600
| SENTINEL-client-secret-51be02
file: bdekey.conf 0600
| [ldap]
| mech = SIMPLE
| password_file = ${CASEDIR}/ldap.pass
| [graph]
| client_secret_file = ${CASEDIR}/client.secret
args: config --config ${CASEDIR}/bdekey.conf
exit: 0
stdout-line: password_file = ${CASEDIR}/ldap.pass  # ${CASEDIR}/bdekey.conf:3
stdout-line: client_secret_file = ${CASEDIR}/client.secret  # ${CASEDIR}/bdekey.conf:5
stdout-lacks: SENTINEL
stderr-lacks: SENTINEL
