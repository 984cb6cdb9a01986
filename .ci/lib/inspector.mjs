// Drive `@modelcontextprotocol/inspector@2.12.0 --cli` against one MCP server:
// tools/list, then tools/call for every line of a calls file, at each protocol era.
// Invoked by .ci/inspector.sh (which resolves Node 22 and the pinned package).
//
// Secrets never reach argv: the server is described in a 0600 `--config` file in a
// private temp dir (headers for HTTP, env for stdio), filled from this process's
// environment by variable NAME.
//
// A call passes when the Inspector exits 0 and the result has no `isError: true`
// (the Inspector itself exits 5 on isError or an unknown tool, 3 on auth, 4 unreachable).

import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const EXIT = { 1: "usage/unexpected error", 3: "auth required", 4: "server unreachable", 5: "tool error (isError or unknown tool)" };

function usage(msg) {
  if (msg) console.error(`inspector: ${msg}`);
  console.error("usage: inspector.sh [options] stdio -- COMMAND [ARGS...] | inspector.sh [options] http URL");
  process.exit(2);
}

function parseArgs(argv) {
  const o = { eras: [], passEnv: [], headerEnv: [], coverage: true, timeout: 30000, wait: 30 };
  let i = 0;
  const next = (a) => {
    if (i + 1 >= argv.length) usage(`${a} needs a value`);
    return argv[++i];
  };
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--inspector") o.inspector = next(a);
    else if (a === "--calls") o.calls = next(a);
    else if (a === "--era") o.eras.push(next(a));
    else if (a === "--cwd") o.cwd = next(a);
    else if (a === "--pass-env") o.passEnv.push(next(a));
    else if (a === "--bearer-env") o.bearerEnv = next(a);
    else if (a === "--header-env") o.headerEnv.push(next(a));
    else if (a === "--no-read-coverage") o.coverage = false;
    else if (a === "--timeout") o.timeout = Number(next(a));
    else if (a === "--wait") o.wait = Number(next(a));
    else if (a === "--label") o.label = next(a);
    else if (a === "stdio") {
      o.transport = "stdio";
      if (argv[i + 1] === "--") i++;
      o.command = argv.slice(i + 1);
      if (o.command.length === 0) usage("stdio needs a command");
      break;
    } else if (a === "http") {
      o.transport = "http";
      o.url = next(a);
      if (i + 1 < argv.length) usage(`unexpected arguments after URL: ${argv.slice(i + 1).join(" ")}`);
      break;
    } else usage(`unknown argument: ${a}`);
  }
  if (!o.inspector) usage("--inspector is required");
  if (!o.transport) usage("give a transport: stdio -- COMMAND... or http URL");
  if (o.eras.length === 0) o.eras = ["legacy", "modern"];
  for (const e of o.eras) if (!["legacy", "modern", "auto"].includes(e)) usage(`bad --era ${e}`);
  o.label ??= o.transport;
  return o;
}

function envValue(name) {
  const v = process.env[name];
  if (v === undefined || v === "") throw new Error(`environment variable ${name} is not set`);
  return v;
}

function serverEntry(o) {
  if (o.transport === "stdio") {
    const env = {};
    for (const n of o.passEnv) env[n] = envValue(n);
    const [command, ...args] = o.command;
    return { type: "stdio", command, args, env, cwd: resolve(o.cwd ?? process.cwd()) };
  }
  const headers = {};
  if (o.bearerEnv) headers.Authorization = `Bearer ${envValue(o.bearerEnv)}`;
  for (const spec of o.headerEnv) {
    const eq = spec.indexOf("=");
    if (eq <= 0) throw new Error(`--header-env wants Header-Name=ENV_VAR, got ${spec}`);
    headers[spec.slice(0, eq)] = envValue(spec.slice(eq + 1));
  }
  return { type: "http", url: o.url, headers };
}

// One call per line: `tool_name {"json": "object"}` (sent verbatim with
// --tool-args-json) or `tool_name key=value ...` (sent as --tool-arg pairs; the
// Inspector JSON-parses each value when it parses, so `limit=5` is the number 5).
function parseCalls(file) {
  const calls = [];
  readFileSync(file, "utf8")
    .split(/\r?\n/)
    .forEach((raw, n) => {
      const line = raw.trim();
      if (!line || line.startsWith("#")) return;
      const m = line.match(/^(\S+)\s*(.*)$/);
      const [, tool, rest] = m;
      const where = `${file}:${n + 1}`;
      if (rest.startsWith("{")) {
        let args;
        try {
          args = JSON.parse(rest);
        } catch (e) {
          throw new Error(`${where}: bad JSON arguments: ${e.message}`);
        }
        calls.push({ tool, where, argv: ["--tool-args-json", JSON.stringify(args)], shown: JSON.stringify(args) });
      } else {
        const pairs = rest ? rest.split(/\s+/) : [];
        for (const p of pairs) if (!/^[^=\s]+=/.test(p)) throw new Error(`${where}: expected key=value, got ${p}`);
        calls.push({ tool, where, argv: pairs.length ? ["--tool-arg", ...pairs] : [], shown: pairs.join(" ") });
      }
    });
  return calls;
}

function runInspector(o, env, configPath, era, methodArgs) {
  const args = [
    o.inspector,
    "--cli",
    "--config",
    configPath,
    "--server",
    "target",
    "--protocol-era",
    era,
    "--format",
    "json",
    "--stored-auth-only",
    "--connect-timeout",
    "15000",
    ...methodArgs, // variadic --tool-arg pairs must stay last
  ];
  return new Promise((res) => {
    const child = spawn(process.execPath, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    const out = [],
      err = [];
    const timer = setTimeout(() => child.kill("SIGKILL"), o.timeout);
    child.stdout.on("data", (d) => out.push(d));
    child.stderr.on("data", (d) => err.push(d));
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString();
      let json = null;
      try {
        json = JSON.parse(stdout);
      } catch {}
      res({ code: code ?? (signal ? 124 : 1), signal, stdout, stderr: Buffer.concat(err).toString(), json });
    });
  });
}

// HTTP only: wait until something answers at the URL (any HTTP status), so CI can
// start the server in the background and call us right away.
async function waitForHttp(url, seconds) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    try {
      await fetch(url, { method: "GET", signal: AbortSignal.timeout(2000) });
      return;
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`nothing answers at ${url} after ${seconds}s (${e.cause?.code ?? e.message})`);
      await new Promise((r) => setTimeout(r, 300));
    }
  }
}

function tail(text, n = 6) {
  return text
    .split("\n")
    .filter((l) => l.trim() && !l.startsWith("[mcp-inspector]"))
    .slice(-n)
    .map((l) => `       ${l.slice(0, 400)}`)
    .join("\n");
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const calls = o.calls ? parseCalls(o.calls) : [];
  const work = mkdtempSync(join(tmpdir(), "inspector-"));
  try {
    const storage = join(work, "storage");
    mkdirSync(storage, { mode: 0o700 });
    const configPath = join(work, "mcp.json");
    writeFileSync(configPath, JSON.stringify({ mcpServers: { target: serverEntry(o) } }), { mode: 0o600 });
    // Isolate the Inspector from any developer state: no catalog, no stored OAuth,
    // secrets kept in memory, never open a browser.
    const env = { ...process.env };
    for (const k of ["MCP_CATALOG_PATH", "MCP_AUTO_OPEN_ENABLED", "MCP_INSPECTOR_SECRET_FILE"]) delete env[k];
    Object.assign(env, {
      MCP_STORAGE_DIR: storage,
      MCP_INSPECTOR_OAUTH_STATE_PATH: join(storage, "oauth.json"),
      MCP_CLIENT_CONFIG_PATH: join(storage, "client.json"),
      MCP_INSPECTOR_SECRET_STORE: "memory",
    });

    let passed = 0,
      failed = 0;
    const target = o.transport === "http" ? o.url : o.command.join(" ");
    console.log(`inspector: ${o.label} target ${target}`);
    if (o.transport === "http") await waitForHttp(o.url, o.wait);
    for (const era of o.eras) {
      const list = await runInspector(o, env, configPath, era, ["--method", "tools/list"]);
      const tools = list.json?.result?.tools;
      if (list.code !== 0 || !Array.isArray(tools)) {
        failed++;
        console.log(`FAIL ${o.label}/${era} tools/list: exit ${list.code} (${EXIT[list.code] ?? "?"})\n${tail(list.stderr + list.stdout)}`);
        console.log(`SKIP ${o.label}/${era}: ${calls.length} tool call(s) not attempted`);
        continue;
      }
      const names = new Set(tools.map((t) => t.name));
      const readOnly = tools.filter((t) => t.annotations?.readOnlyHint === true).map((t) => t.name);
      passed++;
      console.log(`PASS ${o.label}/${era} tools/list: ${tools.length} tools (${readOnly.length} read-only)`);

      if (o.coverage) {
        const called = new Set(calls.map((c) => c.tool));
        const missing = readOnly.filter((n) => !called.has(n));
        if (missing.length) {
          failed++;
          console.log(`FAIL ${o.label}/${era} read-tool coverage: not in the calls file: ${missing.join(", ")}`);
        } else {
          passed++;
          console.log(`PASS ${o.label}/${era} read-tool coverage: all ${readOnly.length} read-only tools are called`);
        }
      }

      for (const c of calls) {
        const name = `${o.label}/${era} tools/call ${c.tool}${c.shown ? ` ${c.shown}` : ""}`;
        if (!names.has(c.tool)) {
          failed++;
          console.log(`FAIL ${name}: tool not advertised by tools/list (${c.where})`);
          continue;
        }
        const r = await runInspector(o, env, configPath, era, ["--method", "tools/call", "--tool-name", c.tool, ...c.argv]);
        const result = r.json?.result;
        if (r.code === 0 && result && result.isError !== true) {
          passed++;
          const kind = result.structuredContent !== undefined ? "structured" : `${result.content?.length ?? 0} content block(s)`;
          const ro = readOnly.includes(c.tool) ? "" : " [tool is not marked readOnlyHint]";
          console.log(`PASS ${name} (${kind})${ro}`);
        } else {
          failed++;
          const why = result?.isError ? "isError: true" : `exit ${r.code} (${EXIT[r.code] ?? (r.signal ? "timeout" : "?")})`;
          const text = result?.content?.find?.((b) => b.type === "text")?.text;
          console.log(`FAIL ${name}: ${why}${text ? `\n       ${text.slice(0, 400)}` : ""}\n${tail(r.stderr)}`);
        }
      }
    }
    console.log(`inspector: ${passed} passed, ${failed} failed`);
    process.exitCode = failed > 0 ? 1 : 0;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.log(`inspector: error: ${e.message}`);
  console.log("inspector: 0 passed, 1 failed");
  process.exitCode = 2;
});
