import * as pulumi from "@pulumi/pulumi";

/**
 * The default boot script for Amazon Linux 2023. The ENI is attached while the instance boots (in
 * `Pending:Wait`); amazon-ec2-net-utils configures a hot-plugged interface by itself (udev +
 * systemd-networkd, with a routing table per interface so replies leave through the interface
 * they came in on, which matters when both interfaces share a subnet). The script makes sure the
 * package is there and waits (up to 5 minutes) until the persistent IP is up, so commands appended
 * after it can bind to it.
 */
export function persistentIpUserData(privateIp: pulumi.Input<string>, then = ""): pulumi.Output<string> {
  return pulumi.interpolate`#!/bin/bash
# PersistentEniAsg: the persistent ENI arrives as device index 1 while this instance is in Pending:Wait.
set -euo pipefail
PERSISTENT_IP="${privateIp}"
rpm -q amazon-ec2-net-utils >/dev/null || dnf install -y amazon-ec2-net-utils
for _ in $(seq 1 60); do
  if ip -4 -o addr show | grep -q "inet \${PERSISTENT_IP}/"; then
    echo "persistent IP \${PERSISTENT_IP} is up"
    break
  fi
  sleep 5
done
${then}`;
}
