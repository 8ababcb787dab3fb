// Drives mpesa sim with a client nobody here wrote: the paymentsds
// JavaScript library (@paymentsds/mpesa), against the Mozambique side on its
// documented ports. .ci/cli.sh installs the pinned version and runs it with
// NODE_EXTRA_CA_CERTS set to the CA mpesa sim wrote out, and with
// api.sandbox.vm.co.mz pointed at 127.0.0.1 (or MPESA_PDS_HOST naming
// another host the certificate is valid for, such as localhost).
//
// It prints one JSON line per step, and a final line with the references,
// for the script to check against the simulator's journal.
import { Client } from "@paymentsds/mpesa";

const env = process.env;
const host = env.MPESA_PDS_HOST; // unset: the library's own sandbox host
const base = {
  apiKey: env.MPESA_API_KEY,
  publicKey: env.MPESA_PUBLIC_KEY,
  serviceProviderCode: env.MPESA_MOZAMBIQUE_SERVICE_PROVIDER_CODE,
  initiatorIdentifier: env.MPESA_INITIATOR_ID,
  securityCredential: env.MPESA_SECURITY_CREDENTIAL,
  ...(host ? { host: "https://" + host } : {}),
};

function fail(msg) {
  console.error("paymentsds: " + msg);
  process.exit(1);
}

async function step(name, fn, wantOK = true) {
  let res;
  try {
    res = await fn();
  } catch (e) {
    res = e;
  }
  const line = { step: name, ...res };
  console.log(JSON.stringify(line));
  const ok = res && res.response && res.response.code === "INS-0";
  if (wantOK && !ok) fail(name + " did not succeed: " + JSON.stringify(res));
  return res;
}

// 1. The library's default Origin, "*": the Mozambique documents give
// developer.mpesa.vm.co.mz, which the simulator requires.
const loose = new Client(base);
const refused = await step("c2b with the default origin", () =>
  loose.receive({ from: "841234567", amount: "10", transaction: "T1", reference: "PDSORIGIN1" }), false);
if (!refused.response || refused.response.status !== 403) fail("the default Origin was not refused with 403: " + JSON.stringify(refused));

// 2. With the documented Origin, every operation.
const client = new Client({ ...base, origin: "developer.mpesa.vm.co.mz" });
const c2b = await step("c2b", () =>
  client.receive({ from: "843330333", amount: "10", transaction: "T12344C", reference: "PDSC2B1" }));
const b2c = await step("b2c", () =>
  client.send({ to: "258843330333", amount: "10", transaction: "T12344B", reference: "PDSB2C1" }));
const b2b = await step("b2b", () =>
  client.send({ to: "979797", amount: "10", transaction: "T12344D", reference: "PDSB2B1" }));
const status = await step("status", () =>
  client.query({ subject: c2b.transaction, reference: "PDSQUERY1" }));
const reversal = await step("reversal", () =>
  client.revert({ transaction: c2b.transaction, amount: "4", reference: "PDSREV1" }));
// A declined prompt: the library rejects with the HTTP status; it keeps
// output_error only, so the code the documents give (INS-5) is lost.
const declined = await step("c2b declined", () =>
  client.receive({ from: "840000005", amount: "10", transaction: "T12344E", reference: "PDSC2B2" }), false);
if (!declined.response || declined.response.status !== 401) fail("the declined C2B was not a 401: " + JSON.stringify(declined));

console.log(JSON.stringify({
  done: true,
  c2b: c2b.transaction, b2c: b2c.transaction, b2b: b2b.transaction,
  status_conversation: status.conversation, reversal: reversal.transaction,
  declined: declined.response,
}));
