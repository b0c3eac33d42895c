// One timer for every countdown on screen. Views register what to redraw;
// the ticker calls them once per tick with the same `now`.

export type Tick = (now: number) => void;

export class Ticker {
  private readonly subscribers = new Set<Tick>();
  private handle: ReturnType<typeof setInterval> | null = null;

  constructor(
    private readonly periodMs = 250,
    private readonly clock: () => number = Date.now,
  ) {}

  add(tick: Tick): void {
    this.subscribers.add(tick);
    tick(this.clock());
    if (this.handle === null) this.handle = setInterval(() => this.tick(), this.periodMs);
  }

  remove(tick: Tick): void {
    this.subscribers.delete(tick);
    if (this.subscribers.size === 0 && this.handle !== null) {
      clearInterval(this.handle);
      this.handle = null;
    }
  }

  get size(): number {
    return this.subscribers.size;
  }

  tick(): void {
    const now = this.clock();
    for (const tick of this.subscribers) tick(now);
  }
}
