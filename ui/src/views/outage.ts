// The one outage banner (F-2): since when, why, how many agents wait, the
// next check counting down, and "Try now". Hidden while there is no outage.

import type { OutageDto } from "../bindings";
import { outageText } from "../format";
import type { Ticker } from "../ticker";
import { h, setText } from "./dom";

export class OutageBanner {
  readonly el: HTMLElement;
  private readonly text = h("span", { class: "text" });
  private readonly tryNow = h("button", { type: "button", class: "try-now" }, "Try now");
  private outage: OutageDto | null = null;
  private waiting = 0;
  private readonly tick = (now: number) => {
    if (this.outage) setText(this.text, outageText(this.outage, this.waiting, now));
  };

  constructor(
    private readonly ticker: Ticker,
    private readonly now: () => number,
    tryNow: () => void,
  ) {
    this.el = h("div", { class: "banner outage", role: "status", hidden: true }, this.text, this.tryNow);
    this.tryNow.addEventListener("click", tryNow);
  }

  /** Shows `outage` with `waiting` held agents, or hides the banner when it is over. */
  show(outage: OutageDto | null, waiting: number): void {
    const was = this.outage;
    this.outage = outage;
    this.waiting = waiting;
    this.el.hidden = outage === null;
    this.tryNow.disabled = outage?.nextProbeAt === null;
    if (outage && !was) this.ticker.add(this.tick);
    if (!outage && was) this.ticker.remove(this.tick);
    this.tick(this.now());
  }
}
