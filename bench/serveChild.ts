import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { ROOT } from "./inProcess";

/**
 * `refract serve` on the data dir, with `--trace-gc`: V8 prints each collection's heap before and
 * after it, so the bench sees both what the heap held at its largest (garbage included) and what
 * survived each collection (the live heap).
 */
export class Server {
  readonly child: ChildProcess;
  /** Heap in use before and after each collection, MB. */
  gc: Array<{ before: number; after: number }> = [];
  url = "";
  token = "";
  private ready_: Promise<void>;

  constructor(dataDir: string, fixture = "trivial") {
    const cli = path.join(ROOT, "dist", "cli.js");
    const flags = fs.readFileSync(cli, "utf8").split("\n")[0].split(" ").slice(3); // the shebang's node flags
    this.child = spawn(process.execPath, [...flags, "--trace-gc", cli, "serve", path.join(ROOT, "bench", "fixtures", fixture), "--data-dir", dataDir, "--port", "0", "--json"], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    let out = "";
    this.ready_ = new Promise<void>((resolve, reject) => {
      this.child.stdout!.on("data", (d: Buffer) => {
        const lines = (out + d.toString()).split("\n");
        out = lines.pop()!;
        for (const l of lines) {
          const gc = / (Scavenge|Mark-Compact|Mark-sweep)[^\d]*([\d.]+) \([\d.]+\) -> ([\d.]+) \(/.exec(l);
          if (gc) this.gc.push({ before: Number(gc[2]), after: Number(gc[3]) });
          else if (l.includes('"event":"ready"')) {
            ({ url: this.url, token: this.token } = JSON.parse(l));
            resolve();
          }
        }
      });
      this.child.on("exit", (code) => reject(new Error(`serve exited with ${code}`)));
    });
  }

  ready(): Promise<void> {
    return this.ready_;
  }
}

