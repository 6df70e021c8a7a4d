/**
 * The container image's files agree with each other and with edgebox (no Docker needed): the
 * Dockerfile's versions, its build context against what `deno compile main.ts` reads, its user,
 * data volume and health check against config/container.yaml; and config/container.yaml run the
 * way the image runs it keeps its data in the data directory. The Kubernetes manifests are
 * checked by scripts/check-deploy.sh (Go, k8s.io/api), with hadolint on the Dockerfile.
 */
import assert from "node:assert/strict";
import { parse, parseAllDocuments } from "yaml";
import { VERSION } from "../../core/version.ts";
import { tempDir } from "../_helpers.ts";
import { runEdgebox, spawnEdgebox, waitForStatus } from "./_edgebox_process.ts";

const ROOT = new URL("../../", import.meta.url);
const read = (path: string) => Deno.readTextFileSync(new URL(path, ROOT));

/** One Dockerfile instruction, continuation lines joined. */
interface Instruction {
  keyword: string;
  args: string;
  /** 0 for the first FROM's stage, 1 for the next... */
  stage: number;
}

function dockerfile(): Instruction[] {
  const joined = read("Dockerfile").replace(/\\\n/g, " ");
  const instructions: Instruction[] = [];
  let stage = -1;
  for (const line of joined.split("\n")) {
    const match = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!match || line.trimStart().startsWith("#")) continue;
    const keyword = match[1]!.toUpperCase();
    if (keyword === "FROM") stage++;
    instructions.push({ keyword, args: match[2]!.trim(), stage });
  }
  return instructions;
}

function instruction(keyword: string, stage?: number): Instruction[] {
  return dockerfile().filter((i) =>
    i.keyword === keyword && (stage === undefined || i.stage === stage)
  );
}

/** The default of `ARG name=value`. */
function argDefault(name: string): string | undefined {
  for (const { args } of instruction("ARG")) {
    const [key, value] = args.split("=", 2);
    if (key === name) return value;
  }
  return undefined;
}

/** A JSON-array (exec form) instruction's words. */
function execForm(args: string): string[] {
  const json = args.slice(args.indexOf("["));
  return JSON.parse(json) as string[];
}

/** Whether `.dockerignore` keeps `path` in the build context (Docker's last-match-wins rules). */
function inBuildContext(path: string, patterns: string[]): boolean {
  const parents = path.split("/").map((_, i, parts) => parts.slice(0, i + 1).join("/"));
  let excluded = false;
  for (const raw of patterns) {
    const negated = raw.startsWith("!");
    const pattern = (negated ? raw.slice(1) : raw).replace(/^\/+|\/+$/g, "");
    const regex = new RegExp(`^${globSource(pattern)}$`);
    if (parents.some((parent) => regex.test(parent))) excluded = !negated;
  }
  return !excluded;
}

/** A `.dockerignore` glob as a regular expression's source (`**`, `*` and `?`). */
function globSource(glob: string): string {
  return glob.split(/(\*\*|\*|\?)/).map((part) =>
    part === "**"
      ? ".*"
      : part === "*"
      ? "[^/]*"
      : part === "?"
      ? "[^/]"
      : part.replace(/[.+^${}()|[\]\\]/g, "\\$&")
  ).join("");
}

function dockerignore(): string[] {
  return read(".dockerignore").split("\n").map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
}

Deno.test("the image is labelled and tagged with edgebox's version", () => {
  assert.equal(argDefault("VERSION"), VERSION);
  const labels = instruction("LABEL").map((i) => i.args).join(" ");
  assert.match(labels, /org\.opencontainers\.image\.version="\$\{VERSION\}"/);
  // revision and created are the build's (docker build --label ...).
  for (const label of ["title", "description", "licenses", "vendor", "base.name"]) {
    assert.match(labels, new RegExp(`org\\.opencontainers\\.image\\.${label}=`), label);
  }
  const deployment = parseAllDocuments(read("deploy/kubernetes/deployment.yaml"))[0]!.toJS();
  const template = deployment.spec.template;
  assert.equal(template.spec.containers[0].image, `edgebox:${VERSION}`);
  assert.equal(template.metadata.labels["app.kubernetes.io/version"], VERSION);
  assert.equal(deployment.metadata.labels["app.kubernetes.io/version"], VERSION);
});

Deno.test("the image is built with the Deno that CI pins", () => {
  const pinned = /^DENO_VERSION=(\S+)$/m.exec(read(".ci/run"))?.[1];
  assert.ok(pinned, ".ci/run pins DENO_VERSION");
  assert.equal(argDefault("DENO_VERSION"), pinned);
  assert.match(instruction("FROM", 0)[0]!.args, /^denoland\/deno:\$\{DENO_VERSION\} AS build$/);
});

Deno.test("dependencies are installed in a layer before any source is copied", () => {
  const build = dockerfile().filter((i) => i.stage === 0 && i.keyword !== "FROM");
  const install = build.findIndex((i) =>
    i.keyword === "RUN" && /deno install --frozen/.test(i.args)
  );
  assert.ok(install > 0, "RUN deno install --frozen in the build stage");
  const before = build.slice(0, install).filter((i) => i.keyword === "COPY");
  assert.deepEqual(before.map((i) => i.args), ["deno.json deno.lock ./"]);
});

Deno.test("the build context and COPY lines hold every file deno compile reads from main.ts", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "main.ts"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.ok(output.success, "deno info main.ts");
  const graph = JSON.parse(new TextDecoder().decode(output.stdout)) as {
    modules: { specifier: string }[];
  };
  const root = ROOT.href;
  const files = graph.modules.map((m) => m.specifier).filter((s) => s.startsWith(root))
    .map((s) => s.slice(root.length));
  assert.ok(files.includes("main.ts") && files.includes("config/edgebox.yaml"), files.join(" "));

  const copied = instruction("COPY", 0).filter((i) => !i.args.startsWith("--from"))
    .flatMap((i) => i.args.split(/\s+/).slice(0, -1)).map((source) => source.replace(/\/$/, ""));
  const patterns = dockerignore();
  const missing = files.concat("deno.json", "deno.lock").filter((file) =>
    !inBuildContext(file, patterns) ||
    !copied.some((source) => file === source || file.startsWith(`${source}/`))
  );
  assert.deepEqual(missing, [], "files the compile needs but the build does not copy");
  // The runtime stage copies the container config from the context too.
  assert.ok(inBuildContext("config/container.yaml", patterns));
  // And what stays out, stays out.
  for (const file of ["tests/e2e/deploy_test.ts", "data/cache.db", ".git/HEAD", "dist/edgebox"]) {
    assert.ok(!inBuildContext(file, patterns), `${file} is not sent to the builder`);
  }
});

Deno.test("the image runs as 65532 with its data volume, config and health check in place", () => {
  const runtime = dockerfile().at(-1)!.stage;
  assert.deepEqual(instruction("USER", runtime).map((i) => i.args), ["65532:65532"]);

  const env = instruction("ENV", runtime).map((i) => i.args).join(" ");
  const dataDir = /\bEDGEBOX_DATA_DIR=(\S+)/.exec(env)?.[1];
  assert.equal(dataDir, "/var/lib/edgebox");
  assert.deepEqual(instruction("VOLUME", runtime).map((i) => execForm(i.args)), [[dataDir]]);
  const owned = instruction("COPY", runtime).find((i) => i.args.endsWith(` ${dataDir}`));
  assert.match(owned?.args ?? "", /--chown=65532:65532/, "the volume's directory is the user's");

  // The config the image runs is config/container.yaml, where CMD says it is.
  const cmd = execForm(instruction("CMD", runtime)[0]!.args);
  const configPath = cmd[cmd.indexOf("--config") + 1];
  const configCopy = instruction("COPY", runtime).find((i) => i.args.startsWith("config/"));
  assert.equal(configCopy?.args, `config/container.yaml ${configPath}`);

  const config = parse(read("config/container.yaml"));
  assert.equal(config.server.dataDir, `\${EDGEBOX_DATA_DIR:-${dataDir}}`);
  // The health check is the binary's own probe (no curl on distroless), on the configured port.
  const healthcheck = execForm(instruction("HEALTHCHECK", runtime)[0]!.args);
  assert.deepEqual(healthcheck, [
    "/usr/local/bin/edgebox",
    "probe",
    `http://127.0.0.1:${config.server.port}/health`,
  ]);
  assert.deepEqual(instruction("EXPOSE", runtime).map((i) => i.args), [`${config.server.port}`]);
  assert.deepEqual(execForm(instruction("ENTRYPOINT", runtime)[0]!.args), [healthcheck[0]]);
});

Deno.test("config/container.yaml keeps every embedded backend's data in the data directory", async () => {
  using data = tempDir("edgebox-container-");
  const key = "container-test-key-0123456789";
  const auth = { authorization: `Bearer ${key}` };
  // As the image runs it (the port and host only moved so tests can run side by side).
  const start = () =>
    spawnEdgebox({
      args: ["serve", "--config", "config/container.yaml", "--host", "127.0.0.1", "--port", "0"],
      env: { EDGEBOX_API_KEY: key, EDGEBOX_DATA_DIR: data.path },
    });

  const edgebox = await start();
  try {
    // The image's HEALTHCHECK command.
    const probe = await runEdgebox({ args: ["probe", `${edgebox.url}/health`] });
    assert.equal(probe.code, 0, probe.stderr);
    await waitForStatus(`${edgebox.url}/ready`, 200);

    const anonymous = await fetch(`${edgebox.url}/v1/cache/keys/greeting`);
    await anonymous.body?.cancel();
    assert.equal(anonymous.status, 401);
    const put = await fetch(`${edgebox.url}/v1/cache/keys/greeting`, {
      method: "PUT",
      headers: auth,
      body: "kept in the volume",
    });
    await put.body?.cancel();
    assert.ok(put.ok, `PUT answered ${put.status}`);
    const object = await fetch(`${edgebox.url}/v1/storage/objects/note.txt`, {
      method: "PUT",
      headers: { ...auth, "content-type": "text/plain" },
      body: "an object",
    });
    await object.body?.cancel();
    assert.ok(object.ok, `object PUT answered ${object.status}`);
  } finally {
    edgebox.kill("SIGTERM");
  }
  assert.equal((await edgebox.exited()).code, 0);

  const names = [...Deno.readDirSync(data.path)].map((entry) => entry.name).sort();
  for (const file of ["cache.db", "edgebox.lock", "graph.db", "messaging.db", "storage"]) {
    assert.ok(names.includes(file), `${file} in the data directory (found ${names.join(", ")})`);
  }

  const restarted = await start();
  try {
    await waitForStatus(`${restarted.url}/ready`, 200);
    const value = await fetch(`${restarted.url}/v1/cache/keys/greeting`, { headers: auth });
    assert.equal(await value.text(), "kept in the volume");
    const object = await fetch(`${restarted.url}/v1/storage/objects/note.txt`, { headers: auth });
    assert.equal(await object.text(), "an object");
  } finally {
    restarted.kill("SIGTERM");
  }
  assert.equal((await restarted.exited()).code, 0);
});
