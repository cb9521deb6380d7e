# rotate's usage errors: caught before any directory is contacted (no
# tenant is configured here, so reaching the network would say so instead).

=== --poll without --wait
args: rotate --device PC1 --yes --poll 3
exit: 2
stderr-has: bdekey: rotate: --poll goes with --wait

=== --wait 0 is no wait at all
args: rotate --device PC1 --yes --wait 0
exit: 2
stderr-has: --wait '0' is not a number of seconds from 1 to 86400

=== --wait too long
args: rotate --device PC1 --yes --wait=86401
exit: 2
stderr-has: --wait '86401' is not a number of seconds from 1 to 86400

=== --wait with a word is not its argument
args: rotate --device PC1 --yes --wait soon
exit: 2
stderr-has: unexpected argument 'soon'

=== --wait alone takes the default, then needs a tenant
args: rotate --device PC1 --yes --wait
exit: 2
stderr-has: no Entra tenant configured

=== --wait N as its own word
args: rotate --device PC1 --yes --wait 30 --poll 2
exit: 2
stderr-has: no Entra tenant configured

=== --poll out of range
args: rotate --device PC1 --yes --wait --poll 0
exit: 2
stderr-has: --poll '0' is not a number of seconds from 1 to 3600

=== device and device ID together
args: rotate --device PC1 --device-id 7c2b1f7e-3f1d-4f6f-9a4b-2b8c6f1d2e3a --yes
exit: 2
stderr-has: give exactly one of --device and --device-id
