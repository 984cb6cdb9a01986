// Run the server scenarios of @modelcontextprotocol/conformance that apply to ANY
// MCP server, at both protocol versions, against a running streamable-HTTP URL.
// Invoked by .ci/conformance.sh (which resolves Node 22 and the pinned package).
//
//   node conformance.mjs --url URL --cli PATH/dist/index.js [--out DIR] [--strict]
//                        [--era 2025-11-25] [--era 2026-07-28] [--wait SECONDS]
//
// Each counted scenario is run on its own (`server --scenario S --spec-version ERA`,
// which runs it at that era's wire: initialize handshake for 2025-11-25, per-request
// _meta for 2026-07-28) and judged from the checks.json the suite writes:
//   FAILURE in a counted check -> the scenario fails
//   WARNING (a SHOULD)         -> reported; fails only with --strict
//   INFO / SKIPPED             -> neutral; a scenario with no SUCCESS and no FAILURE
//                                 is reported as skipped (not applicable)
//   no checks.json             -> the scenario fails (did not run)
//
// WHY THIS LIST (read from the suite's source, dist/index.js of 0.2.0-alpha.12):
// most server scenarios drive fixture tools/prompts/resources that exist only on the
// suite's own "everything server" (test_simple_text, test_image_content,
// test://static-text, test_prompt_with_arguments, test_input_required_result_*, ...).
// Only the scenarios below exercise the protocol itself with whatever the server
// advertises. See .ci/README.md for the full table of excluded scenarios.

import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, existsSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ERAS = ["2025-11-25", "2026-07-28"];

// Checks inside a counted scenario that need a fixture tool of the suite's own test
// server and so either fail or pass vacuously on any other server: not counted.
const STATELESS_FIXTURE_CHECKS = [
  // probe tool test_missing_capability (a tool that needs the client's sampling
  // capability): without it the server answers "Unknown tool" (isError), which the
  // suite reads as "executed although the capability was not declared".
  "sep-2575-server-rejects-undeclared-capability",
  "sep-2575-missing-capability-http-400",
  // test_streaming_elicitation / test_logging_tool / test_trigger_*_change: pass
  // vacuously (or warn) when the tool is absent.
  "sep-2575-http-server-no-independent-requests-on-stream",
  "sep-2575-server-no-log-without-loglevel",
  "sep-2575-server-honors-notification-filter",
  "sep-2575-server-sends-prompts-list-changed-on-subscription",
  "sep-2575-server-sends-tools-list-changed-on-subscription",
];

// [scenario, options]; requiresCap: counted only when the server declares that
// capability in its initialize result (the scenario calls the method unconditionally).
const SCENARIOS = {
  "2025-11-25": [
    ["server-initialize"],
    ["server-session-lifecycle"], // stateful HTTP only; reported as skipped when stateless
    ["ping"],
    ["logging-set-level", { requiresCap: "logging" }],
    ["tools-list"],
    ["resources-list"],
    ["prompts-list"],
    ["server-sse-multiple-streams"],
    ["dns-rebinding-protection"],
  ],
  "2026-07-28": [
    ["server-stateless", { ignoreChecks: STATELESS_FIXTURE_CHECKS }],
    ["tools-list"],
    ["resources-list"],
    ["prompts-list"],
    ["sep-2164-resource-not-found"],
    ["server-sse-multiple-streams"],
    ["dns-rebinding-protection"],
    ["caching"],
    ["input-required-result-unsupported-methods"],
    ["http-header-validation"], // "pending" in the 2026-07-28 requirement set, fixture-free
  ],
};

function parseArgs(argv) {
  const o = { eras: [], strict: false, wait: 30, timeout: 30000 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === "--url") o.url = next();
    else if (a === "--cli") o.cli = next();
    else if (a === "--out") o.out = next();
    else if (a === "--era") o.eras.push(next());
    else if (a === "--wait") o.wait = Number(next());
    else if (a === "--timeout") o.timeout = Number(next());
    else if (a === "--strict") o.strict = true;
    else throw new Error(`unknown argument: ${a}`);
  }
  if (!o.url || !o.cli) throw new Error("--url and --cli are required");
  if (o.eras.length === 0) o.eras = [...ERAS];
  for (const e of o.eras) if (!ERAS.includes(e)) throw new Error(`unknown era ${e} (use ${ERAS.join(" or ")})`);
  return o;
}

// initialize at 2025-11-25; returns the server's capabilities (or throws).
async function probeCapabilities(url) {
  const res = await fetch(url, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      Accept: "application/json, text/event-stream",
      "MCP-Protocol-Version": "2025-11-25",
    },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: {
        protocolVersion: "2025-11-25",
        capabilities: {},
        clientInfo: { name: "ci-capability-probe", version: "1.0.0" },
      },
    }),
    signal: AbortSignal.timeout(10000),
  });
  const text = await res.text();
  if (!res.ok)
    throw Object.assign(new Error(`initialize returned HTTP ${res.status}: ${text.slice(0, 300)}`), { httpStatus: res.status });
  let msg;
  if ((res.headers.get("content-type") ?? "").includes("text/event-stream")) {
    const line = text.split(/\r?\n/).find((l) => l.startsWith("data:") && l.includes('"id"'));
    msg = JSON.parse(line.slice(5));
  } else {
    msg = JSON.parse(text);
  }
  const sid = res.headers.get("mcp-session-id");
  if (sid) {
    await fetch(url, { method: "DELETE", headers: { "mcp-session-id": sid, "MCP-Protocol-Version": "2025-11-25" } }).catch(
      () => {},
    );
  }
  if (!msg?.result?.capabilities) throw new Error(`initialize gave no capabilities: ${text.slice(0, 300)}`);
  return { capabilities: msg.result.capabilities, serverInfo: msg.result.serverInfo, sessionId: sid };
}

async function waitForServer(url, seconds) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    try {
      return await probeCapabilities(url);
    } catch (e) {
      if (e.httpStatus === 401 || e.httpStatus === 403)
        throw new Error(`${e.message}\n  the conformance suite cannot authenticate: run the server without auth for this check`);
      if (e.httpStatus) throw e; // up, but not speaking MCP at this URL
      if (Date.now() > deadline) throw new Error(`server at ${url} not ready after ${seconds}s: ${e.cause?.code ?? e.message}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

function runCli(cli, args, logFile) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    const chunks = [];
    child.stdout.on("data", (d) => chunks.push(d));
    child.stderr.on("data", (d) => chunks.push(d));
    child.on("close", (code, signal) => {
      writeFileSync(logFile, Buffer.concat(chunks));
      resolve(code ?? (signal ? 128 : 1));
    });
  });
}

function findChecks(dir) {
  if (!existsSync(dir)) return null;
  for (const d of readdirSync(dir)) {
    const f = join(dir, d, "checks.json");
    if (existsSync(f)) return JSON.parse(readFileSync(f, "utf8"));
  }
  return null;
}

function judge(checks, ignore, strict) {
  const counted = checks.filter((c) => !ignore.includes(c.id));
  const ignored = checks.filter((c) => ignore.includes(c.id));
  const by = (s) => counted.filter((c) => c.status === s);
  const failures = [...by("FAILURE"), ...(strict ? by("WARNING") : [])];
  const verdict = failures.length > 0 ? "failed" : by("SUCCESS").length > 0 ? "passed" : "skipped";
  return { verdict, counted, ignored, failures, warnings: by("WARNING"), successes: by("SUCCESS") };
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const out = o.out ?? mkdtempSync(join(tmpdir(), "conformance-"));
  mkdirSync(out, { recursive: true });
  console.log(`conformance: server ${o.url}; results in ${out}`);

  const probe = await waitForServer(o.url, o.wait);
  const caps = probe.capabilities;
  console.log(
    `conformance: ${probe.serverInfo?.name ?? "?"} ${probe.serverInfo?.version ?? ""} ` +
      `(${probe.sessionId ? "stateful" : "stateless"} HTTP) declares: ${Object.keys(caps).sort().join(", ")}`,
  );

  const rows = [];
  for (const era of o.eras) {
    for (const [scenario, opts = {}] of SCENARIOS[era]) {
      if (opts.requiresCap && caps[opts.requiresCap] === undefined) {
        rows.push({ era, scenario, verdict: "n/a", note: `server does not declare the '${opts.requiresCap}' capability` });
        continue;
      }
      const dir = join(out, era, scenario);
      mkdirSync(dir, { recursive: true });
      const t0 = Date.now();
      const code = await runCli(
        o.cli,
        ["server", "--url", o.url, "--scenario", scenario, "--spec-version", era, "-o", dir, "--timeout", String(o.timeout)],
        join(dir, "cli.log"),
      );
      const checks = findChecks(dir);
      const ms = Date.now() - t0;
      if (!checks) {
        rows.push({ era, scenario, verdict: "failed", ms, note: `did not run (exit ${code}); see ${join(dir, "cli.log")}` });
        continue;
      }
      rows.push({ era, scenario, ms, code, ...judge(checks, opts.ignoreChecks ?? [], o.strict) });
    }
  }

  // Report
  let passed = 0,
    failed = 0,
    skipped = 0;
  for (const r of rows) {
    const tag = r.verdict === "passed" ? "PASS" : r.verdict === "failed" ? "FAIL" : "SKIP";
    if (r.verdict === "passed") passed++;
    else if (r.verdict === "failed") failed++;
    else skipped++;
    const counts = r.counted
      ? ` (${r.successes.length} ok, ${r.failures.length} failed, ${r.warnings.length} warnings` +
        (r.ignored.length ? `, ${r.ignored.length} fixture checks not counted` : "") +
        `)`
      : "";
    console.log(`${tag} ${r.era} ${r.scenario}${counts}${r.note ? ` - ${r.note}` : ""}`);
    for (const c of r.failures ?? []) console.log(`     x ${c.id}: ${c.errorMessage ?? c.description}`);
    for (const c of r.verdict === "failed" ? [] : (r.warnings ?? []))
      if (!o.strict) console.log(`     ~ ${c.id} (SHOULD): ${c.errorMessage ?? c.description}`);
    if (r.verdict === "skipped" && r.counted)
      for (const c of r.counted.filter((c) => c.status !== "WARNING")) console.log(`     - ${c.id} [${c.status}]: ${c.errorMessage ?? c.details?.message ?? ""}`);
  }
  writeFileSync(
    join(out, "summary.json"),
    JSON.stringify(
      rows.map(({ era, scenario, verdict, note, failures, warnings }) => ({
        era,
        scenario,
        verdict,
        note,
        failures: failures?.map((c) => ({ id: c.id, message: c.errorMessage })),
        warnings: warnings?.map((c) => ({ id: c.id, message: c.errorMessage })),
      })),
      null,
      2,
    ),
  );
  console.log(`conformance: ${passed} passed, ${failed} failed, ${skipped} skipped`);
  process.exitCode = failed > 0 ? 1 : 0;
}

main().catch((e) => {
  console.log(`conformance: error: ${e.message}`);
  console.log("conformance: 0 passed, 1 failed");
  process.exitCode = 2;
});
