// page.ts - what every page gets from the shell and gives back to it.

import type { Route } from "./route";

export interface PageContext {
  /** The page's own element; the shell clears it between pages. */
  el: HTMLElement;
  /** Go to a route: push a history entry, or replace the current one. */
  go(r: Route, replace?: boolean): void;
  /** Show a failure in the banner (the server's own message). */
  fail(e: unknown): void;
  /** Set the document title's page part. */
  title(t: string): void;
  /** Draw the current route again from scratch (after a change it made). */
  reload(): void;
  /** Whether this page is still the one on screen (false once the user left). */
  live(): boolean;
}

export interface Mounted {
  /** Undo what the page set up (charts, timers) when it is left. */
  leave?: () => void;
  /** A new route for the same page: true when the page applied it in place
   * (a chart option, say), false to be drawn again from scratch. */
  update?: (r: Route) => boolean;
}

/** A page draws itself into ctx.el. */
export type Page<R extends Route = Route> = (r: R, ctx: PageContext) => Promise<Mounted | void>;
