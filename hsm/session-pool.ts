import { CaError } from "../ca/errors.js";

/** How the pool makes, checks and ends its items (PKCS#11 sessions in production). */
export interface PoolResource<T> {
  /** Opens a new item (open a session and log in). */
  create(): Promise<T>;
  /** Ends an item; must not throw. */
  destroy(item: T): void;
  /** Called before an idle item is handed out again; false destroys it and tries the next. */
  validate?(item: T): boolean;
}

export interface SessionPoolOptions {
  /** Most items open at once (idle + in use + being created). */
  readonly size: number;
  /** Rejects an acquire that waited this long with CaError("unavailable"). Default: wait forever. */
  readonly acquireTimeoutMs?: number;
  /** Told the number of items in use whenever it changes (metrics). */
  readonly onInUseChange?: (inUse: number) => void;
}

interface Waiter<T> {
  resolve(item: T): void;
  reject(e: unknown): void;
  timer?: NodeJS.Timeout;
}

/**
 * A bounded pool: one operation per item at a time (a PKCS#11 session holds one active operation,
 * PKCS#11 v2.40 §5.2), at most `size` items, waiters served first come, first served.
 * `exclusive(fn)` drains the pool (no item in use) before running `fn`, for module re-initialization.
 */
export class SessionPool<T> {
  private readonly idle: T[] = [];
  private readonly leased = new Set<T>();
  private creating = 0;
  private readonly waiters: Array<Waiter<T>> = [];
  private paused = 0;
  private drainWaiters: Array<() => void> = [];
  private exclusiveTail: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly resource: PoolResource<T>,
    private readonly options: SessionPoolOptions,
  ) {
    if (!Number.isInteger(options.size) || options.size < 1) throw new RangeError("pool size must be an integer >= 1");
  }

  /** Items handed out right now. */
  get inUse(): number {
    return this.leased.size;
  }
  /** Items that exist (idle, in use, or being opened). */
  get open(): number {
    return this.idle.length + this.leased.size + this.creating;
  }
  /** Callers waiting for an item. */
  get waiting(): number {
    return this.waiters.length;
  }

  /** Waits for an item (FIFO). Give it back with {@link release} or {@link discard}. */
  acquire(): Promise<T> {
    if (this.closed) return Promise.reject(new CaError("unavailable", "HSM session pool is closed"));
    return new Promise<T>((resolve, reject) => {
      const w: Waiter<T> = { resolve, reject };
      const timeout = this.options.acquireTimeoutMs;
      if (timeout !== undefined) {
        w.timer = setTimeout(() => {
          const i = this.waiters.indexOf(w);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(new CaError("unavailable", `no HSM session free within ${timeout} ms`));
        }, timeout);
        w.timer.unref?.();
      }
      this.waiters.push(w);
      this.dispatch();
    });
  }

  /** Returns a healthy item for reuse. */
  release(item: T): void {
    if (!this.leased.delete(item)) return;
    if (this.closed) this.resource.destroy(item);
    else this.idle.push(item);
    this.changed();
  }

  /** Returns a broken item: it is destroyed and its place freed. */
  discard(item: T): void {
    if (!this.leased.delete(item)) return;
    this.resource.destroy(item);
    this.changed();
  }

  /** Destroys every idle item (e.g. after the library was re-initialized). */
  destroyIdle(): void {
    for (const item of this.idle.splice(0)) this.resource.destroy(item);
  }

  /**
   * Runs `fn` when no item is in use and none is being created; acquisitions wait meanwhile.
   * Calls are serialized. The caller must not hold an item (it would wait for itself).
   */
  exclusive<R>(fn: () => R | Promise<R>): Promise<R> {
    this.paused++; // at once: acquisitions made after this call wait
    const run = async (): Promise<R> => {
      try {
        await new Promise<void>((resolve) => {
          if (this.leased.size + this.creating === 0) resolve();
          else this.drainWaiters.push(resolve);
        });
        return await fn();
      } finally {
        this.paused--;
        this.dispatch();
      }
    };
    const result = this.exclusiveTail.then(run, run);
    this.exclusiveTail = result.catch(() => undefined);
    return result;
  }

  /**
   * Stops the pool: pending acquires are rejected, idle items destroyed at once, items in use
   * destroyed when they come back. Resolves when every item is gone.
   */
  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiters.splice(0)) {
      if (w.timer) clearTimeout(w.timer);
      w.reject(new CaError("unavailable", "HSM session pool is closed"));
    }
    this.destroyIdle();
    await new Promise<void>((resolve) => {
      if (this.leased.size + this.creating === 0) resolve();
      else this.drainWaiters.push(resolve);
    });
  }

  private changed(): void {
    this.options.onInUseChange?.(this.leased.size);
    if (this.leased.size + this.creating === 0 && this.drainWaiters.length > 0) {
      for (const resolve of this.drainWaiters.splice(0)) resolve();
    }
    this.dispatch();
  }

  private takeIdle(): T | undefined {
    for (;;) {
      const item = this.idle.pop();
      if (item === undefined) return undefined;
      let ok = true;
      try {
        ok = this.resource.validate ? this.resource.validate(item) : true;
      } catch {
        ok = false;
      }
      if (ok) return item;
      this.resource.destroy(item);
    }
  }

  private dispatch(): void {
    while (this.waiters.length > 0 && this.paused === 0 && !this.closed) {
      const item = this.takeIdle();
      if (item !== undefined) {
        const w = this.waiters.shift() as Waiter<T>;
        if (w.timer) clearTimeout(w.timer);
        this.leased.add(item);
        this.options.onInUseChange?.(this.leased.size);
        w.resolve(item);
        continue;
      }
      if (this.open >= this.options.size) return;
      const w = this.waiters.shift() as Waiter<T>;
      // Served from now on: the timeout no longer applies (else the new item would leak).
      if (w.timer) clearTimeout(w.timer);
      this.creating++;
      Promise.resolve()
        .then(() => this.resource.create())
        .then(
          (created) => {
            this.creating--;
            if (this.closed) {
              this.resource.destroy(created);
              w.reject(new CaError("unavailable", "HSM session pool is closed"));
            } else {
              this.leased.add(created);
              w.resolve(created);
            }
            this.changed();
          },
          (e: unknown) => {
            this.creating--;
            w.reject(e);
            this.changed();
          },
        );
    }
  }
}
