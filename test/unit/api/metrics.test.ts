import assert from "node:assert/strict";
import { Metrics, Tally } from "../../../api/metrics.js";

/** The value of one series in the exposition, or undefined when it is absent. */
function series(text: string, name: string, labels: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{${labels}} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
}

describe("Metrics: OCSP counters tallied on the hot path, exposed on scrape", () => {
  it("counts answers by status, pre-signed lookups and fast-path GETs, across scrapes", async () => {
    const m = new Metrics({ defaultMetrics: false });
    for (let i = 0; i < 5; i++) m.ocsp.countResponse("good");
    m.ocsp.countResponse("revoked");
    m.ocsp.countResponse("tryLater");
    for (let i = 0; i < 3; i++) m.ocsp.countPresignedLookup(true);
    m.ocsp.countPresignedLookup(false);
    for (let i = 0; i < 4; i++) m.countOcspGet(200);
    m.countOcspGet(304);

    let text = await m.exposition();
    assert.equal(series(text, "ca_ocsp_responses_total", 'status="good"'), 5);
    assert.equal(series(text, "ca_ocsp_responses_total", 'status="revoked"'), 1);
    assert.equal(series(text, "ca_ocsp_responses_total", 'status="tryLater"'), 1);
    assert.equal(series(text, "ca_ocsp_responses_total", 'status="unknown"'), undefined);
    assert.equal(series(text, "ca_ocsp_presigned_lookups_total", 'result="hit"'), 3);
    assert.equal(series(text, "ca_ocsp_presigned_lookups_total", 'result="miss"'), 1);
    assert.equal(series(text, "ca_http_requests_total", 'method="GET",route="/ocsp/*request",status="200"'), 4);
    assert.equal(series(text, "ca_http_requests_total", 'method="GET",route="/ocsp/*request",status="304"'), 1);

    // Counters only grow: a second scrape adds what came since, it does not start again.
    m.ocsp.countResponse("good");
    m.ocsp.countPresignedLookup(true);
    m.countOcspGet(200);
    m.httpRequests.inc({ method: "GET", route: "/ocsp/*request", status: "200" }); // the Koa path counts directly
    text = await m.exposition();
    assert.equal(series(text, "ca_ocsp_responses_total", 'status="good"'), 6);
    assert.equal(series(text, "ca_ocsp_presigned_lookups_total", 'result="hit"'), 4);
    assert.equal(series(text, "ca_http_requests_total", 'method="GET",route="/ocsp/*request",status="200"'), 6);
    text = await m.exposition();
    assert.equal(series(text, "ca_ocsp_responses_total", 'status="good"'), 6, "a scrape without new answers changes nothing");
  });

  it("Tally hands over each count once", () => {
    const t = new Tally();
    t.add("a");
    t.add("a");
    t.add("b");
    const first: Array<[string, number]> = [];
    t.drain((v, n) => first.push([v, n]));
    assert.deepEqual(first, [["a", 2], ["b", 1]]);
    const second: Array<[string, number]> = [];
    t.drain((v, n) => second.push([v, n]));
    assert.deepEqual(second, []);
  });
});
