#!/usr/bin/env python3
"""The twin's hosts: one podman container per running emulated EC2 instance or GCP VM.

moto knows instances and volumes but runs nothing. This makes each running
instance real enough to configure: a Debian 12 container with systemd as PID 1
(named twin-<instance id>, reached with the containers.podman.podman connection),
and each attached non-root EBS volume backed by a sparse file on a loop device,
mapped into the container under the device name the instance declares (as a Xen
instance shows it: /dev/sdf appears as /dev/xvdf). GCP VMs of the twin's GCP API
(twin/gcp_api.py) get the same, named twin-gcp-<VM name>, each non-boot disk mapped
where a Compute Engine VM shows it: /dev/disk/by-id/google-<device name>.

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
GCP_PREFIX = "twin-gcp-"
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


def gcp_get(url):
    """GET a JSON document from the twin's GCP API (directly: it is on loopback), None on 404."""
    import urllib.error
    import urllib.request

    try:
        # Any token will do: the twin's API only wants one to be there, as Google's does.
        req = urllib.request.Request(url, headers={"Authorization": "Bearer twin-hosts"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.load(resp)
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return None
        raise SystemExit(f"twin hosts: GET {url} answered {e.code}: {e.read()[:300]!r}")
    except OSError as e:
        raise SystemExit(f"twin hosts: the twin's GCP API at {url} does not answer ({e}); start it with twin/twinctl up")


def gcp_running_vms(gcp_url, project, managed_by):
    """The running VMs of the project that carry our managed-by label, as {container name: VM}."""
    if not re.match(r"^http://(127\.\d+\.\d+\.\d+|localhost)(:\d+)?/?$", gcp_url or ""):
        raise SystemExit(f"twin hosts: {gcp_url} is not a loopback URL; the twin's hosts only mirror the twin")
    data = gcp_get(f"{gcp_url.rstrip('/')}/compute/v1/projects/{project}/aggregated/instances") or {}
    vms = [vm for scope in (data.get("items") or {}).values() for vm in scope.get("instances", [])]
    return {GCP_PREFIX + vm["name"]: vm for vm in vms
            if vm.get("status") == "RUNNING" and (vm.get("labels") or {}).get("managed-by") == managed_by}


def gcp_data_disks(gcp_url, vm):
    """(device path inside the host, volume file key, size GiB) of every non-boot disk."""
    found = []
    for disk in vm.get("disks", []):
        if disk.get("boot") or not disk.get("source"):
            continue
        path = disk["source"].split("/compute/v1/", 1)[-1]
        info = gcp_get(f"{gcp_url.rstrip('/')}/compute/v1/{path}")
        if info is None:
            continue
        zone, name = path.split("/zones/", 1)[1].split("/disks/")
        key = f"gcp-{zone}--{name}"
        found.append((f"/dev/disk/by-id/google-{disk.get('deviceName') or name}", key, int(info.get("sizeGb", 10))))
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


def create_container(name, host_id, env, devices, endpoint):
    args = [
        "podman", "run", "-d", "--name", name, "--hostname", host_id,
        "--label", f"{LABEL}={host_id}",
        "--label", f"{SCOPE}={endpoint}",
        "--label", f"mlinfra.twin.env={env}",
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

    gcp_names = set(gcp_running_vms(args.gcp_url, args.gcp_project, args.managed_by)) if args.gcp_project else set()
    for name, info in existing.items():
        iid = info.get("Labels", {}).get(LABEL)
        # Without a GCP project, GCP VMs' containers are not this run's business.
        is_gcp = name.startswith(GCP_PREFIX)
        if (not is_gcp and iid not in instances) or (is_gcp and args.gcp_project and name not in gcp_names):
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
            create_container(name, iid, tag(instance, "Environment"), devices, args.endpoint)
            created.append(name)
        hosts.append({"name": name, "instance_id": iid, "devices": dict(devices)})

    gcp_vms = gcp_running_vms(args.gcp_url, args.gcp_project, args.managed_by) if args.gcp_project else {}
    for name, vm in sorted(gcp_vms.items()) if create else []:
        disks = gcp_data_disks(args.gcp_url, vm)
        devices = [(inner, attach_loop(key, size)) for inner, key, size in disks]
        if name in existing and name not in removed:
            if existing[name].get("State") != "running":
                run("podman", "start", name)
                created.append(name)
        else:
            create_container(name, GCP_PREFIX[len(PREFIX):] + vm["name"], (vm.get("labels") or {}).get("environment", ""),
                             devices, args.endpoint)
            created.append(name)
        hosts.append({"name": name, "gcp_vm": vm["name"], "devices": dict(devices)})

    for path in sorted(VOLUME_DIR.glob("gcp-*.img")) if VOLUME_DIR.is_dir() else []:
        zone, disk = path.stem[len("gcp-"):].split("--", 1)
        in_use = any(key == path.stem for vm in gcp_vms.values() for _, key, _ in gcp_data_disks(args.gcp_url, vm))
        if not in_use and detach_loop(path):
            removed.append(path.name + " (loop)")
        if args.gcp_project and gcp_get(f"{args.gcp_url.rstrip('/')}/compute/v1/projects/{args.gcp_project}/zones/{zone}/disks/{disk}") is None:
            path.unlink()
            removed.append(path.name)

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
    for path in sorted([*VOLUME_DIR.glob("vol-*.img"), *VOLUME_DIR.glob("gcp-*.img")]) if VOLUME_DIR.is_dir() else []:
        if detach_loop(path):
            removed.append(path.name + " (loop)")
    return {"changed": bool(removed), "removed": removed}


def status(args):
    containers = twin_containers(args.endpoint)
    files = sorted([*VOLUME_DIR.glob("vol-*.img"), *VOLUME_DIR.glob("gcp-*.img")]) if VOLUME_DIR.is_dir() else []
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
    # The twin's GCP API (default: the AWS port + 2000) and the project whose VMs get hosts;
    # no project: AWS instances only.
    aws_port = int(os.environ.get("TWIN_AWS_PORT", "5000"))
    parser.add_argument("--gcp-url", default=os.environ.get(
        "TWIN_GCP_URL", "http://127.0.0.1:%d" % (aws_port + 2000 if aws_port <= 63535 else aws_port - 2000)))
    parser.add_argument("--gcp-project", default=os.environ.get("TWIN_GCP_PROJECT", ""))
    args = parser.parse_args()
    commands = {"sync": sync, "prune": lambda a: sync(a, create=False), "down": down, "status": status}
    result = commands[args.command](args)
    json.dump(result, sys.stdout, indent=1, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
