// The one outage banner (F-2): since when, why, how many agents wait, the
// next check counting down, and "Try now"; while staff paused automatic
// reconnects, how many wait and "Resume". Hidden while there is no outage.

import type { OutageDto } from "../bindings";
import { outageText } from "../format";
import type { Ticker } from "../ticker";
import { h, setText } from "./dom";

export class OutageBanner {
  readonly el: HTMLElement;
  private readonly text = h("span", { class: "text" });
  private readonly tryNow = h("button", { type: "button", class: "try-now" }, "Try now");
  private readonly resume = h("button", { type: "button", class: "resume" }, "Resume");
  private outage: OutageDto | null = null;
  private waiting = 0;
  private readonly tick = (now: number) => {
    if (this.outage) setText(this.text, outageText(this.outage, this.waiting, now));
  };

  constructor(
    private readonly ticker: Ticker,
    private readonly now: () => number,
    tryNow: () => void,
    resume: () => void,
  ) {
    this.el = h("div", { class: "banner outage", role: "status", hidden: true }, this.text, this.tryNow, this.resume);
    this.tryNow.addEventListener("click", tryNow);
    this.resume.addEventListener("click", resume);
  }

  /** Shows `outage` with `waiting` held agents, or hides the banner when it is over. */
  show(outage: OutageDto | null, waiting: number): void {
    const was = this.outage;
    this.outage = outage;
    this.waiting = waiting;
    this.el.hidden = outage === null;
    this.tryNow.disabled = outage?.nextProbeAt === null;
    this.tryNow.hidden = outage?.paused === true;
    this.resume.hidden = outage?.paused !== true;
    if (outage && !was) this.ticker.add(this.tick);
    if (!outage && was) this.ticker.remove(this.tick);
    this.tick(this.now());
  }
}
