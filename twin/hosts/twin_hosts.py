#!/usr/bin/env python3
"""The twin's hosts: one podman container per running emulated EC2 instance.

moto knows instances and volumes but runs nothing. This makes each running
instance real enough to configure: a Debian 12 container with systemd as PID 1
(named twin-<instance id>, reached with the containers.podman.podman connection),
and each attached non-root EBS volume backed by a sparse file on a loop device,
mapped into the container under the device name the instance declares (as a Xen
instance shows it: /dev/sdf appears as /dev/xvdf).

    twin_hosts.py sync    make the containers match the running instances (idempotent)
    twin_hosts.py prune   only remove what no running instance needs (teardown)
    twin_hosts.py down    remove every twin container and detach every twin loop device
    twin_hosts.py status  list containers and volumes

Volumes outlive containers: a volume's file is kept while moto still has the
volume (kept data volumes survive a teardown and come back attached to the next
instance) and removed when moto deletes it. Prints one JSON object; "changed"
says whether anything was created or removed.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

LABEL = "mlinfra.twin.host"
SCOPE = "mlinfra.twin.endpoint"
PREFIX = "twin-"
ROOT = Path(__file__).resolve().parents[2]
STATE_DIR = Path(os.environ.get("TWIN_STATE_DIR", ROOT / ".twin"))
VOLUME_DIR = STATE_DIR / "volumes"
WHEELHOUSE = STATE_DIR / "wheelhouse"
IMAGE = os.environ.get("TWIN_HOST_IMAGE", "localhost/mlinfra-twin-host:bookworm")
# Volume files are sparse, so a 1 TB volume costs only what is written. The cap
# keeps a mistyped size from making a file the disk cannot hold.
MAX_VOLUME_GIB = int(os.environ.get("TWIN_MAX_VOLUME_GIB", "2048"))


def run(*args, check=True):
    proc = subprocess.run(args, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise SystemExit(f"twin hosts: {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


def ec2_client(endpoint, region):
    import boto3  # the venv's; imported late so `down` works without it

    if not re.match(r"^https?://(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?/?$", endpoint):
        raise SystemExit(f"twin hosts: {endpoint} is not a loopback endpoint; the twin's hosts only mirror the twin")
    return boto3.client(
        "ec2", endpoint_url=endpoint, region_name=region,
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )


def running_instances(ec2, managed_by):
    pages = ec2.get_paginator("describe_instances").paginate(Filters=[
        {"Name": "instance-state-name", "Values": ["running"]},
        {"Name": "tag:ManagedBy", "Values": [managed_by]},
    ])
    return [i for page in pages for r in page["Reservations"] for i in r["Instances"]]


def data_volumes(instance):
    """(device name inside the host, volume id) of every non-root EBS volume."""
    root = instance.get("RootDeviceName")
    found = []
    for bdm in instance.get("BlockDeviceMappings", []):
        name = bdm.get("DeviceName", "")
        if name == root or "Ebs" not in bdm:
            continue
        found.append((re.sub(r"^/dev/sd", "/dev/xvd", name), bdm["Ebs"]["VolumeId"]))
    return sorted(found)


def twin_containers(endpoint):
    """This twin's containers: several twins (the demo's, a test's) may run side by side."""
    if shutil.which("podman") is None:
        return {}
    out = run("podman", "ps", "-a", "--filter", f"label={LABEL}", "--filter", f"label={SCOPE}={endpoint}", "--format", "json")
    return {c["Names"][0]: c for c in json.loads(out or "[]")}


def loop_of(path):
    out = run("losetup", "-j", str(path), "-O", "NAME", "-n", check=False).strip()
    return out.splitlines()[0] if out else None


def attach_loop(volume_id, size_gib):
    VOLUME_DIR.mkdir(parents=True, exist_ok=True)
    path = VOLUME_DIR / f"{volume_id}.img"
    if not path.exists():
        with open(path, "wb") as fh:
            fh.truncate(min(size_gib, MAX_VOLUME_GIB) * 1024 ** 3)
    return loop_of(path) or run("losetup", "-f", "--show", str(path)).strip()


def detach_loop(path):
    dev = loop_of(path)
    if dev:
        run("losetup", "-d", dev, check=False)
    return dev


def create_container(name, instance, devices, endpoint):
    args = [
        "podman", "run", "-d", "--name", name, "--hostname", instance["InstanceId"],
        "--label", f"{LABEL}={instance['InstanceId']}",
        "--label", f"{SCOPE}={endpoint}",
        "--label", f"mlinfra.twin.env={tag(instance, 'Environment')}",
        # mount(8) needs SYS_ADMIN; never --privileged, which would hand over the machine's whole /dev.
        "--cap-add", "SYS_ADMIN",
        "--systemd", "always",
    ]
    for inner, loop in devices:
        args += ["--device", f"{loop}:{inner}:rwm"]
    if WHEELHOUSE.is_dir():
        # The offline wheel directory the pytorch role installs from (no GPU, no CUDA wheels here).
        args += ["-v", f"{WHEELHOUSE}:/opt/wheelhouse:ro"]
    run(*args, IMAGE)


def tag(instance, key):
    return next((t["Value"] for t in instance.get("Tags", []) if t["Key"] == key), "")


def sync(args, create=True):
    ec2 = ec2_client(args.endpoint, args.region)
    if create and subprocess.run(["podman", "image", "exists", IMAGE]).returncode != 0:
        raise SystemExit(f"twin hosts: image {IMAGE} is missing: run twin/hosts/build-image.sh")
    instances = {i["InstanceId"]: i for i in running_instances(ec2, args.managed_by)}
    volumes = {v["VolumeId"]: v for page in ec2.get_paginator("describe_volumes").paginate() for v in page["Volumes"]}
    existing = twin_containers(args.endpoint)
    created, removed, hosts = [], [], []

    for name, info in existing.items():
        iid = info.get("Labels", {}).get(LABEL)
        if iid not in instances:
            run("podman", "rm", "-f", "-t", "2", name)
            removed.append(name)

    for iid, instance in sorted(instances.items()) if create else []:
        name = PREFIX + iid
        devices = [(inner, attach_loop(vol, volumes[vol]["Size"])) for inner, vol in data_volumes(instance) if vol in volumes]
        if name in existing and name not in removed:
            if existing[name].get("State") != "running":
                run("podman", "start", name)
                created.append(name)
        else:
            create_container(name, instance, devices, args.endpoint)
            created.append(name)
        hosts.append({"name": name, "instance_id": iid, "devices": dict(devices)})

    attached = {vol for i in instances.values() for _, vol in data_volumes(i)}
    for path in sorted(VOLUME_DIR.glob("vol-*.img")) if VOLUME_DIR.is_dir() else []:
        vol = path.stem
        if vol not in attached and detach_loop(path):
            removed.append(path.name + " (loop)")
        if vol not in volumes:
            path.unlink()
            removed.append(path.name)

    return {"changed": bool(created or removed), "created": created, "removed": removed, "hosts": hosts}


def down(args):
    removed = []
    for name in twin_containers(args.endpoint):
        run("podman", "rm", "-f", "-t", "2", name)
        removed.append(name)
    for path in sorted(VOLUME_DIR.glob("vol-*.img")) if VOLUME_DIR.is_dir() else []:
        if detach_loop(path):
            removed.append(path.name + " (loop)")
    return {"changed": bool(removed), "removed": removed}


def status(args):
    containers = twin_containers(args.endpoint)
    files = sorted(VOLUME_DIR.glob("vol-*.img")) if VOLUME_DIR.is_dir() else []
    return {
        "changed": False,
        "containers": {n: c.get("State") for n, c in containers.items()},
        "volumes": {p.stem: loop_of(p) for p in files},
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["sync", "prune", "down", "status"])
    parser.add_argument("--endpoint", default=os.environ.get("TWIN_AWS_ENDPOINT", "http://127.0.0.1:%s" % os.environ.get("TWIN_AWS_PORT", "5000")))
    parser.add_argument("--region", default=os.environ.get("AWS_REGION", "us-west-2"))
    parser.add_argument("--managed-by", default="ansible-mlinfra")
    args = parser.parse_args()
    commands = {"sync": sync, "prune": lambda a: sync(a, create=False), "down": down, "status": status}
    result = commands[args.command](args)
    json.dump(result, sys.stdout, indent=1, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
