"""Fixture data for the bdekey Samba AD test DC (shared by populate.py and bulk.py).

Pure Python, no samba import: `populate.py --env` only needs this module.
Every value here is deterministic, so tests/ad/README.md can list them.
"""
import hashlib
import uuid

REALM = "BDEKEY.TEST"
DOMAIN = "BDEKEY"
DNS_DOMAIN = "bdekey.test"
BASE = "DC=bdekey,DC=test"
DC_NAME = "DC1"                         # NetBIOS name of the DC; host dc1.bdekey.test
OU_WS = "OU=Workstations," + BASE
OU_BULK = "OU=Bulk," + BASE
FVE_CLASS_GUID = "ea715d30-8f53-40d0-bd1e-6109186d782c"   # schemaIDGUID of msFVE-RecoveryInformation

# Users created by populate.py: name -> SDDL ACE template put on the domain root
# ({sid} replaced by the user's SID).  'noaccess' has no grant at all.
USERS = {
    "helpdesk": "(OA;CIIO;RPCR;;%s;{sid})" % FVE_CLASS_GUID,
    "reader": "(OA;CIIO;RP;;%s;{sid})" % FVE_CLASS_GUID,
    "noaccess": None,
}


def guid_le(guid):
    """16-byte mixed-endian (Microsoft) form of '{XXXXXXXX-...}' / 'XXXXXXXX-...'."""
    return uuid.UUID(guid.strip("{}")).bytes_le


def recovery_password(guid, salt="bdekey-fixture"):
    """A valid recovery password, deterministic per key GUID.

    8 blocks, block i = 11 * w_i, w_i a 16-bit word (here: little-endian words of
    sha256(salt:GUID)), zero-padded to 6 digits."""
    h = hashlib.sha256(("%s:%s" % (salt, guid.strip("{}").upper())).encode()).digest()
    words = [int.from_bytes(h[2 * i:2 * i + 2], "little") for i in range(8)]
    return "-".join("%06d" % (11 * w) for w in words)


def key_package(guid):
    """Some deterministic bytes for msFVE-KeyPackage (57 bytes)."""
    return b"BDEKEYKP\x00" + guid_le(guid) + hashlib.sha256(
        ("keypackage:" + guid.strip("{}").upper()).encode()).digest()


def key_rdn(time_str, guid):
    """CN of a recovery object: '<time with offset>{<GUID upper>}'."""
    return "%s{%s}" % (time_str, guid.strip("{}").upper())


def is_valid_password(pw):
    blocks = pw.split("-")
    return (len(blocks) == 8 and all(len(b) == 6 and b.isdigit() for b in blocks)
            and all(int(b) % 11 == 0 and int(b) < 720896 for b in blocks))


def _dn_escape(value):
    """RFC 4514 escaping as Samba returns DNs (\\, \\+ \\\\ ... not hex)."""
    out = []
    for i, c in enumerate(value):
        if c in ',+"\\<>;=' or (c == "#" and i == 0) or (c == " " and i in (0, len(value) - 1)):
            out.append("\\" + c)
        else:
            out.append(c)
    return "".join(out)


def dn(cn, parent):
    return "CN=%s,%s" % (_dn_escape(cn), parent)


class Key:
    def __init__(self, tag, guid, volume, time_str, password=None):
        self.tag = tag                  # env suffix ("" for single-key computers)
        self.guid = "{%s}" % guid.strip("{}").upper()
        self.volume = "{%s}" % volume.strip("{}").upper()
        self.rdn = key_rdn(time_str, self.guid)
        self.password = password or recovery_password(self.guid)


class Computer:
    def __init__(self, env, cn, sam, host, keys, sleep_between=False):
        self.env = env                  # env prefix, e.g. AD_ALPHA
        self.cn = cn
        self.sam = sam                  # includes trailing $
        self.dnshost = "%s.%s" % (host, DNS_DOMAIN)
        self.keys = keys
        self.dn = dn(cn, OU_WS)
        # make consecutive keys differ in whenCreated (1 s resolution)
        self.sleep_between = sleep_between


MANY_COUNT = 1050
MANY_VOLUME = "{F6F6F6F6-6666-4666-8666-666666666666}"


def many_key_guid(i):
    """i in 1..MANY_COUNT -> {AB00NNNN-0000-4000-8000-00000000NNNN} (NNNN decimal)."""
    return "{AB00%04d-0000-4000-8000-00000000%04d}" % (i, i)


def many_key_time(i):
    # hour i after 2023-01-01T00:00:00+00:00, as '<date>T<hh>:00:00+00:00'
    day, hour = divmod(i - 1, 24)
    import datetime
    t = datetime.datetime(2023, 1, 1) + datetime.timedelta(days=day, hours=hour)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + "+00:00"


def computers():
    """The fixture computers, in creation order."""
    vol_a = "{A1A1A1A1-1111-4111-8111-111111111111}"
    vol_b = "{B2B2B2B2-2222-4222-8222-222222222222}"
    # CN times are chosen so that sorting the CN strings gives a different order
    # (OLD, NEW, B) than the creation order (OLD, B, NEW): 18:00Z, 18:30Z, 20:00Z.
    alpha = Computer("AD_ALPHA", "PC-ALPHA", "PC-ALPHA$", "pc-alpha", [
        Key("OLD", "063EA4E1-220C-4293-BA01-4754620A96E7", vol_a, "2024-01-10T10:00:00-08:00",
            "496298-461032-321464-595518-463221-173943-033616-139579"),
        Key("B", "5C1D2E3F-4A5B-4C6D-8E7F-8091A2B3C4D5", vol_b, "2024-01-10T19:30:00+01:00"),
        Key("NEW", "1A2B3C4D-5E6F-4A5B-8C7D-9E0F1A2B3C4D", vol_a, "2024-01-10T12:00:00-08:00",
            "158422-038236-492536-574783-256300-205084-114356-069773"),
    ], sleep_between=True)
    beta = Computer("AD_BETA", "PC-BETA", "PC-BETA$", "pc-beta", [
        Key("", "9F8E7D6C-5B4A-4938-8271-605F4E3D2C1B",
            "{C3C3C3C3-3333-4333-8333-333333333333}", "2024-02-01T09:15:00+00:00"),
    ])
    weird = Computer("AD_WEIRD", "Lab (1) *x\\y, Zo\u00eb", "LAB1X$", "lab1x", [
        Key("", "2468ACE0-1357-49BD-8ACE-0123456789AB",
            "{D4D4D4D4-4444-4444-8444-444444444444}", "2024-03-05T14:00:00+05:30"),
    ])
    nokey = Computer("AD_NOKEY", "PC-NOKEY", "PC-NOKEY$", "pc-nokey", [])
    badsum = Computer("AD_BADSUM", "PC-BADSUM", "PC-BADSUM$", "pc-badsum", [
        Key("", "DEADBEEF-0000-4000-8000-00000000BAD1",
            "{E5E5E5E5-5555-4555-8555-555555555555}", "2024-04-01T08:00:00-05:00",
            "496298-461032-321465-595518-463221-173943-033616-139579"),
    ])
    many = Computer("AD_MANY", "PC-MANY", "PC-MANY$", "pc-many", [
        Key("%04d" % i, many_key_guid(i), MANY_VOLUME, many_key_time(i))
        for i in range(1, MANY_COUNT + 1)
    ])
    twin1 = Computer("AD_TWIN1", "PC-TWIN1", "PC-TWIN1$", "pc-twin1", [
        Key("", "77777777-AAAA-4AAA-8AAA-000000000001",
            "{17171717-7777-4777-8777-777777777771}", "2024-05-01T10:00:00+02:00"),
    ])
    twin2 = Computer("AD_TWIN2", "PC-TWIN2", "PC-TWIN2$", "pc-twin2", [
        Key("", "77777777-BBBB-4BBB-8BBB-000000000002",
            "{27272727-7777-4777-8777-777777777772}", "2024-05-02T10:00:00+02:00"),
    ])
    return [alpha, beta, weird, nokey, badsum, many, twin1, twin2]


def env_vars():
    """Ordered list of (name, value) describing the fixture (no DIR-dependent values)."""
    v = [
        ("BDEKEY_TEST_BASE", BASE),
        ("AD_REALM", REALM),
        ("AD_DOMAIN", DOMAIN),
        ("AD_DNS_DOMAIN", DNS_DOMAIN),
        ("AD_DC_HOST", "%s.%s" % (DC_NAME.lower(), DNS_DOMAIN)),
        ("AD_OU", OU_WS),
        ("AD_FVE_CLASS_GUID", FVE_CLASS_GUID),
        ("AD_ADMIN_USER", "Administrator"),
        ("AD_ADMIN_DN", "CN=Administrator,CN=Users," + BASE),
        ("AD_ADMIN_UPN", "Administrator@" + REALM),
    ]
    for u in USERS:
        up = u.upper()
        v += [("AD_%s_USER" % up, u),
              ("AD_%s_DN" % up, "CN=%s,CN=Users,%s" % (u, BASE)),
              ("AD_%s_UPN" % up, "%s@%s" % (u, REALM))]
    for c in computers():
        v += [(c.env + "_CN", c.cn), (c.env + "_SAM", c.sam), (c.env + "_DNSNAME", c.dnshost),
              (c.env + "_DN", c.dn), (c.env + "_COUNT", str(len(c.keys)))]
        if c.env == "AD_MANY":
            first, last = c.keys[0], c.keys[-1]
            v += [("AD_MANY_VOL", MANY_VOLUME),
                  ("AD_MANY_KEY_FIRST", first.guid), ("AD_MANY_PW_FIRST", first.password),
                  ("AD_MANY_RDN_FIRST", first.rdn),
                  ("AD_MANY_KEY_LAST", last.guid), ("AD_MANY_PW_LAST", last.password),
                  ("AD_MANY_RDN_LAST", last.rdn)]
            continue
        for k in c.keys:
            sfx = "_" + k.tag if k.tag else ""
            v += [(c.env + "_KEY" + sfx, k.guid), (c.env + "_PW" + sfx, k.password),
                  (c.env + "_VOL" + sfx, k.volume), (c.env + "_RDN" + sfx, k.rdn),
                  (c.env + "_KEYDN" + sfx, dn(k.rdn, c.dn))]
    v += [("AD_ALPHA_VOL_A", "{A1A1A1A1-1111-4111-8111-111111111111}"),   # = VOL_OLD = VOL_NEW
          ("AD_TWIN_PREFIX", "77777777")]
    return v


# ---- bulk (bulk.py) ----
def bulk_name(i):
    return "BULK-%06d" % i


def bulk_key_guid(i):
    """i >= 1 -> {B0NNNNNN-0000-4000-8000-000000NNNNNN} (i decimal, 6 digits)."""
    return "{B0%06d-0000-4000-8000-000000%06d}" % (i, i)


BULK_VOLUME_FMT = "{C0%06d-0000-4000-8000-000000%06d}"
BULK_TIME = "2024-06-01T12:00:00+00:00"
