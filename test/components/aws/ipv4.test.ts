import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkInSubnet, isIpv4 } from "../../../components/aws/ipv4";
import { ArgumentChecker } from "../../../components/core/validation";

describe("isIpv4", () => {
  for (const [input, expected] of [
    ["10.0.1.10", true],
    ["0.0.0.0", true],
    ["255.255.255.255", true],
    ["256.0.0.1", false],
    ["10.0.1", false],
    ["10.0.1.10.1", false],
    // A leading zero reads as octal to some tools; EC2 wants plain decimal.
    ["10.0.01.10", false],
    ["10.0.1.10/32", false],
    ["::1", false],
    ["", false],
  ] as const) {
    it(`${JSON.stringify(input)} -> ${expected}`, () => {
      assert.equal(isIpv4(input), expected);
    });
  }
});

// https://docs.aws.amazon.com/vpc/latest/userguide/subnet-sizing.html: /16../28, and in each
// subnet the first four addresses and the last are reserved.
describe("checkInSubnet", () => {
  const names = { ip: "ip", cidr: "cidr", subnet: "the subnet" };
  const rows: { ip: string; cidr: string; fix?: string }[] = [
    { ip: "10.0.1.4", cidr: "10.0.1.0/24" },
    { ip: "10.0.1.254", cidr: "10.0.1.0/24" },
    { ip: "10.0.255.254", cidr: "10.0.0.0/16" },
    { ip: "10.0.1.20", cidr: "10.0.1.16/28" },
    // A block written with host bits set still names its network.
    { ip: "10.0.1.10", cidr: "10.0.1.7/24" },
    {
      ip: "10.0.2.10",
      cidr: "10.0.1.0/24",
      fix: "is outside cidr 10.0.1.0/24; give an address of the subnet.",
    },
    {
      ip: "10.0.1.0",
      cidr: "10.0.1.0/24",
      fix: "is reserved by AWS in 10.0.1.0/24 (the first four addresses and the last); use one of 10.0.1.4..10.0.1.254.",
    },
    {
      ip: "10.0.1.3",
      cidr: "10.0.1.0/24",
      fix: "is reserved by AWS in 10.0.1.0/24 (the first four addresses and the last); use one of 10.0.1.4..10.0.1.254.",
    },
    {
      ip: "10.0.1.255",
      cidr: "10.0.1.0/24",
      fix: "is reserved by AWS in 10.0.1.0/24 (the first four addresses and the last); use one of 10.0.1.4..10.0.1.254.",
    },
    {
      ip: "10.0.1.32",
      cidr: "10.0.1.16/28",
      fix: "is outside cidr 10.0.1.16/28; give an address of the subnet.",
    },
  ];
  for (const row of rows) {
    it(`${row.ip} in ${row.cidr} -> ${row.fix ?? "accepted"}`, () => {
      const checker = new ArgumentChecker("test");
      checkInSubnet(checker, names, row.ip, row.cidr);
      assert.deepEqual(checker.list(), row.fix === undefined ? [] : [{ argument: "ip", value: row.ip, fix: row.fix }]);
    });
  }
  for (const cidr of ["10.0.1.0/29", "10.0.0.0/15", "10.0.1.0", "10.0.1/24", "10.0.1.0/x"]) {
    it(`rejects the block ${JSON.stringify(cidr)}, naming the subnet sizes VPC allows`, () => {
      const checker = new ArgumentChecker("test");
      checkInSubnet(checker, names, "10.0.1.10", cidr);
      assert.deepEqual(checker.list(), [
        {
          argument: "cidr",
          value: cidr,
          fix: 'is not a subnet CIDR block; VPC subnets are /16../28, e.g. "10.0.1.0/24".',
        },
      ]);
    });
  }
});
