/**
 * Drives Debian's headless Chromium over the DevTools protocol on a pipe
 * (`--remote-debugging-pipe`: JSON messages ended by NUL on file descriptors 3 and 4), so a
 * test can wait for a React page to render, click, read the page and take a screenshot
 * without a browser-automation dependency.
 *
 * `--dump-dom` and `--screenshot` alone are not enough for the MLflow UI: its runs table
 * shows child runs only after the parent row is expanded by a click.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { access, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';

/** The Chromium executable: `SWEEP_CHROMIUM`, else Debian's `/usr/bin/chromium`. */
export function chromiumPath(): string {
  return process.env.SWEEP_CHROMIUM || '/usr/bin/chromium';
}

/** Whether the executable exists (tests skip with a reason when it does not). */
export async function chromiumInstalled(): Promise<boolean> {
  try {
    await access(chromiumPath());
    return true;
  } catch {
    return false;
  }
}

/** Options of {@link HeadlessChromium.launch}. */
export interface LaunchOptions {
  /** A fresh profile folder; the caller removes it. */
  userDataDir: string;
  /** Viewport in CSS pixels. */
  width: number;
  height: number;
  /** Limit of each protocol call, in ms. Default 15000. */
  callTimeoutMs?: number;
}

interface Reply {
  id?: number;
  result?: Record<string, unknown>;
  error?: { message: string };
}

/** One headless Chromium with one page. Always `close()` it (try/finally or t.after). */
export class HeadlessChromium {
  readonly #child: ChildProcess;
  readonly #input: Writable;
  readonly #callTimeoutMs: number;
  readonly #pending = new Map<number, (reply: Reply) => void>();
  #nextId = 1;
  #sessionId: string | undefined;
  #stderr = '';
  #exited = false;

  private constructor(child: ChildProcess, callTimeoutMs: number) {
    this.#child = child;
    this.#input = child.stdio[3] as Writable;
    this.#callTimeoutMs = callTimeoutMs;

    let buffered = '';
    (child.stdio[4] as Readable).on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      for (let end = buffered.indexOf('\0'); end >= 0; end = buffered.indexOf('\0')) {
        const reply = JSON.parse(buffered.slice(0, end)) as Reply;
        buffered = buffered.slice(end + 1);
        if (reply.id !== undefined) this.#pending.get(reply.id)?.(reply);
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString('utf8')).slice(-4000);
    });
    child.once('exit', () => {
      this.#exited = true;
      for (const resolve of this.#pending.values()) {
        resolve({ error: { message: `chromium exited; last stderr:\n${this.#stderr}` } });
      }
    });
  }

  /**
   * Starts Chromium headless with the project's flags (no sandbox, no GPU, no background
   * networking, component updates, sync or first-run UI) and opens a blank page.
   */
  static async launch(options: LaunchOptions): Promise<HeadlessChromium> {
    const args = [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      `--user-data-dir=${options.userDataDir}`,
      `--window-size=${options.width},${options.height}`,
      '--remote-debugging-pipe',
      'about:blank',
    ];
    // Its own process group, so close() ends the renderers and helpers too.
    const child = spawn(chromiumPath(), args, {
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });

    const browser = new HeadlessChromium(child, options.callTimeoutMs ?? 15_000);
    try {
      const target = await browser.#call('Target.createTarget', { url: 'about:blank' });
      const attached = await browser.#call('Target.attachToTarget', {
        targetId: target.targetId,
        flatten: true,
      });
      browser.#sessionId = attached.sessionId as string;
      await browser.#call('Page.enable');
      await browser.#call('Emulation.setDeviceMetricsOverride', {
        width: options.width,
        height: options.height,
        deviceScaleFactor: 1,
        mobile: false,
      });
    } catch (error) {
      await browser.close();
      throw error;
    }
    return browser;
  }

  /** Loads `url` in the page (does not wait for scripts to render). */
  async navigate(url: string): Promise<void> {
    await this.#call('Page.navigate', { url });
  }

  /** Runs a JavaScript expression in the page and returns its JSON value. */
  async evaluate<T>(expression: string): Promise<T> {
    const reply = await this.#call('Runtime.evaluate', {
      expression,
      returnByValue: true,
      awaitPromise: true,
    });
    const details = reply.exceptionDetails as { text?: string } | undefined;
    if (details !== undefined) {
      throw new Error(`page script failed: ${details.text ?? 'exception'} in ${expression}`);
    }
    return (reply.result as { value: T }).value;
  }

  /**
   * Polls `expression` every 250 ms until it is truthy. A script error counts as not yet
   * (the page may be between documents).
   * @throws Error naming the expression and the last script error when `timeoutMs` passes.
   */
  async waitFor(expression: string, timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    let lastError = '';
    while (performance.now() < deadline) {
      try {
        if (await this.evaluate<boolean>(`Boolean(${expression})`)) return;
      } catch (error) {
        lastError = ` (last: ${(error as Error).message})`;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new Error(`the page did not reach ${expression} within ${timeoutMs} ms${lastError}`);
  }

  /**
   * Clicks the first element matching `selector` with real mouse events at its centre
   * (React handlers ignore `element.click()` in some widgets).
   */
  async click(selector: string): Promise<void> {
    const box = await this.evaluate<{ x: number; y: number } | null>(
      `(() => { const e = document.querySelector(${JSON.stringify(selector)}); ` +
        'if (!e) return null; const r = e.getBoundingClientRect(); ' +
        'return { x: r.x + r.width / 2, y: r.y + r.height / 2 }; })()',
    );
    if (box === null) throw new Error(`nothing on the page matches ${selector}`);

    for (const type of ['mouseMoved', 'mousePressed', 'mouseReleased']) {
      await this.#call('Input.dispatchMouseEvent', {
        type,
        x: box.x,
        y: box.y,
        button: 'left',
        clickCount: 1,
      });
    }
  }

  /** Writes a PNG of the viewport to `file`, creating its folder. */
  async screenshot(file: string): Promise<void> {
    const shot = await this.#call('Page.captureScreenshot', { format: 'png' });
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, Buffer.from(shot.data as string, 'base64'));
  }

  /** Ends Chromium's process group (SIGTERM, then SIGKILL after 5 s). Safe to call twice. */
  async close(): Promise<void> {
    if (this.#exited || this.#child.pid === undefined) return;
    const pid = this.#child.pid;
    const gone = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()));

    signalGroup(pid, 'SIGTERM');
    const timer = setTimeout(() => signalGroup(pid, 'SIGKILL'), 5000);
    await gone;
    clearTimeout(timer);
  }

  async #call(method: string, params: object = {}): Promise<Record<string, unknown>> {
    if (this.#exited) throw new Error(`chromium has exited; last stderr:\n${this.#stderr}`);
    const id = this.#nextId++;
    const message = { id, method, params, sessionId: this.#sessionId };

    const reply = await new Promise<Reply>((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        resolve({ error: { message: `no answer within ${this.#callTimeoutMs} ms` } });
      }, this.#callTimeoutMs);
      this.#pending.set(id, (answer) => {
        clearTimeout(timer);
        this.#pending.delete(id);
        resolve(answer);
      });
      this.#input.write(`${JSON.stringify(message)}\0`);
    });

    if (reply.error !== undefined) {
      throw new Error(`chromium ${method} failed: ${reply.error.message}`);
    }
    return reply.result ?? {};
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}
