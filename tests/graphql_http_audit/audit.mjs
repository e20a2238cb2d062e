// Runs graphql-http's server audits against a GraphQL endpoint and prints their
// results as JSON (one object per audit: id, name, status, and for a failed audit
// its reason and the response's status, content type and body).
//
//   node audit.mjs URL KEY
//
// Every request the audits make carries `Authorization: Bearer KEY` (the audits
// take a fetch function: this one adds the header and passes everything else on).
import { serverAudits } from "graphql-http";

const [url, key] = process.argv.slice(2);
if (!url || !key) {
  console.error("usage: node audit.mjs URL KEY");
  process.exit(2);
}

function fetchWithKey(input, init = {}) {
  const headers = new Headers(init.headers);
  headers.set("authorization", `Bearer ${key}`);
  return fetch(input, { ...init, headers });
}

async function describe(response) {
  if (!response) return undefined;
  let body;
  try {
    body = await response.clone().text();
  } catch {
    body = "(body already read)";
  }
  return {
    status: response.status,
    contentType: response.headers.get("content-type"),
    body,
  };
}

const audits = serverAudits({ url, fetchFn: fetchWithKey });
const results = [];
for (const audit of audits) {
  const result = await audit.fn();
  results.push({
    id: result.id,
    name: result.name,
    status: result.status,
    reason: result.reason,
    response: await describe(result.response),
  });
}
console.log(JSON.stringify({ audits: audits.length, results }));
