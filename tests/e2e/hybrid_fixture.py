#!/usr/bin/python3
"""hybrid_fixture.py - the Graph emulator's fixture plus PC-ALPHA, a
hybrid-joined device whose oldest key is also escrowed in the Samba test
domain (tests/ad: PC-ALPHA's key {063EA4E1-...}), and one key only Entra has.

Usage: hybrid_fixture.py OUT.json   (reads tests/graph/fixture.json)
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

HYBRID = {
    "var": "HYBRID",
    "id": "5d1c7e20-8f4b-4c1a-9e3d-2b6a0c9f8e71",
    "deviceId": "a9e8d7c6-b5a4-4392-8170-6f5e4d3c2b1a",
    "displayName": "PC-ALPHA",
    "keys": [
        {   # the same recovery key as AD's oldest PC-ALPHA key
            "var": "HYBRID_SHARED",
            "id": "063ea4e1-220c-4293-ba01-4754620a96e7",
            "createdDateTime": "2024-01-10T18:00:00Z",
            "volumeType": 1,
            "key": "496298-461032-321464-595518-463221-173943-033616-139579",
        },
        {   # escrowed to Entra only, after the device became hybrid
            "var": "HYBRID_ENTRA",
            "id": "c0ffee00-1111-4222-8333-444455556666",
            "createdDateTime": "2026-01-05T08:15:00Z",
            "volumeType": "operatingSystemVolume",
            "key": "041767-227645-395153-700249-005269-288409-633149-084975",
        },
    ],
}

MANAGED = {
    "var": "MD_HYBRID",
    "id": "7e6d5c4b-3a29-4817-a6f5-e4d3c2b1a090",
    "deviceName": "PC-ALPHA",
    "azureADDeviceId": HYBRID["deviceId"],
    "userPrincipalName": "helpdesk@contoso.test",
}


def main():
    with open(os.path.join(HERE, "..", "graph", "fixture.json")) as f:
        fx = json.load(f)
    fx["devices"].append(HYBRID)
    fx["managedDevices"].append(MANAGED)
    with open(sys.argv[1], "w") as f:
        json.dump(fx, f, indent=1)


if __name__ == "__main__":
    main()
