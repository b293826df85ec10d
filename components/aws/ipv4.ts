/**
 * IPv4 addresses and VPC subnets: whether a text is a dotted-quad address, and whether an address
 * is one an instance or ENI can take in a subnet. A VPC subnet's CIDR block is /16 to /28, and AWS
 * reserves the first four addresses and the last of each
 * (https://docs.aws.amazon.com/vpc/latest/userguide/subnet-sizing.html).
 */
import type { ArgumentChecker } from "../core/validation";

/** Four decimal octets 0..255, without leading zeros. */
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const CIDR = /^([\d.]+)\/(\d{1,2})$/;
const SMALLEST_SUBNET_PREFIX = 28;
const LARGEST_SUBNET_PREFIX = 16;
/** AWS reserves the network address and the next three (router, DNS, future use). */
const RESERVED_AT_START = 4;

/** Whether `text` is an IPv4 address in dotted-quad form. */
export function isIpv4(text: string): boolean {
  return IPV4.test(text);
}

/** The address as a 32-bit unsigned number: "10.0.1.10" -> 167772426. */
function ipToNumber(ip: string): number {
  return ip.split(".").reduce((value, octet) => value * 256 + Number(octet), 0);
}

/** The dotted-quad form of a 32-bit unsigned number. */
function numberToIp(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join(".");
}

/** Names the two arguments in messages: `{ ip: "networkInterface.privateIp", cidr: "networkInterface.subnetCidrBlock" }`. */
export interface SubnetAddressArguments {
  ip: string;
  cidr: string;
  /** What the subnet is, for the fix: "the ENI's subnet". */
  subnet: string;
}

/**
 * Records a problem when `cidr` is not a VPC subnet's block, or `ip` (an IPv4 address) lies outside
 * it or is one of the addresses AWS reserves there.
 */
export function checkInSubnet(
  checker: ArgumentChecker,
  argumentNames: SubnetAddressArguments,
  ip: string,
  cidr: string,
): void {
  const match = CIDR.exec(cidr);
  const prefix = match ? Number(match[2]) : -1;
  if (!match || !isIpv4(match[1]) || prefix < LARGEST_SUBNET_PREFIX || prefix > SMALLEST_SUBNET_PREFIX) {
    checker.check(
      false,
      argumentNames.cidr,
      cidr,
      `is not a subnet CIDR block; VPC subnets are /${LARGEST_SUBNET_PREFIX}../${SMALLEST_SUBNET_PREFIX}, e.g. "10.0.1.0/24".`,
    );
    return;
  }
  const size = 2 ** (32 - prefix);
  const network = ipToNumber(match[1]) - (ipToNumber(match[1]) % size);
  const address = ipToNumber(ip);
  if (address < network || address >= network + size) {
    checker.check(
      false,
      argumentNames.ip,
      ip,
      `is outside ${argumentNames.cidr} ${cidr}; give an address of ${argumentNames.subnet}.`,
    );
  } else if (address < network + RESERVED_AT_START || address === network + size - 1) {
    checker.check(
      false,
      argumentNames.ip,
      ip,
      `is reserved by AWS in ${cidr} (the first four addresses and the last); use one of ${numberToIp(network + RESERVED_AT_START)}..${numberToIp(network + size - 2)}.`,
    );
  }
}
