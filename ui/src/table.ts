// table.ts - a virtually scrolled table: only the rows in view (plus a
// margin) exist in the DOM, so 100,000 runs scroll as smoothly as 100. Rows
// arrive in pages; nearing the end asks for the next page.

import { h, clear } from "./dom";

export interface TableColumn<T> {
  id: string;
  title: string;
  width: number; // px
  cell: (row: T, index: number) => Node | string;
  sort?: "asc" | "desc" | null; // shown in the header; undefined: not sortable
  title_hint?: string;
}

export interface TableOptions<T> {
  columns: TableColumn<T>[];
  rowHeight?: number;
  onSort?: (col: TableColumn<T>) => void;
  onNearEnd?: () => void; // more rows wanted
  rowClass?: (row: T) => string;
  rowKey: (row: T) => string;
}

export class VirtualTable<T> {
  readonly el: HTMLElement;
  private rows: T[] = [];
  private readonly rh: number;
  private readonly body: HTMLElement;
  private readonly sizer: HTMLElement;
  private readonly head: HTMLElement;
  private frame = 0;
  private first = -1;
  private last = -1;
  private footerText = "";
  private readonly footer: HTMLElement;

  constructor(private readonly o: TableOptions<T>) {
    this.rh = o.rowHeight ?? 30;
    this.head = h("div.vt-head", { role: "row" });
    this.body = h("div.vt-rows", { role: "rowgroup" });
    this.sizer = h("div.vt-sizer", this.body);
    this.footer = h("div.vt-footer");
    this.el = h("div.vt", { role: "table", tabindex: 0 }, this.head, this.sizer, this.footer);
    this.el.addEventListener("scroll", () => this.schedule(), { passive: true });
    new ResizeObserver(() => this.schedule()).observe(this.el);
    this.el.addEventListener("keydown", (e) => this.key(e));
    this.renderHead();
  }

  get length(): number {
    return this.rows.length;
  }

  setRows(rows: T[]): void {
    this.rows = rows;
    this.first = this.last = -1;
    this.sizer.style.height = `${rows.length * this.rh}px`;
    this.schedule();
  }

  appendRows(more: T[]): void {
    this.setRows(this.rows.concat(more));
  }

  setFooter(text: string): void {
    this.footerText = text;
    this.footer.textContent = text;
  }

  setColumns(cols: TableColumn<T>[]): void {
    this.o.columns = cols;
    this.renderHead();
    this.first = this.last = -1;
    this.schedule();
  }

  /** Redraw the rows in view (after their data changed in place). */
  refresh(): void {
    this.first = this.last = -1;
    this.schedule();
  }

  private width(): number {
    return this.o.columns.reduce((a, c) => a + c.width, 0);
  }

  private renderHead(): void {
    clear(this.head);
    for (const c of this.o.columns) {
      const arrow = c.sort === "asc" ? " ▲" : c.sort === "desc" ? " ▼" : "";
      const cell = h(
        c.sort !== undefined ? "button.vt-th.sortable" : "div.vt-th",
        { style: `width:${c.width}px`, title: c.title_hint ?? c.title, role: "columnheader", "data-col": c.id },
        c.title + arrow,
      );
      if (c.sort !== undefined && this.o.onSort) cell.addEventListener("click", () => this.o.onSort!(c));
      this.head.append(cell);
    }
    this.head.style.width = this.sizer.style.width = `${this.width()}px`;
  }

  private schedule(): void {
    if (!this.frame) this.frame = requestAnimationFrame(() => this.draw());
  }

  private draw(): void {
    this.frame = 0;
    const top = Math.max(0, this.el.scrollTop - this.head.offsetHeight);
    const view = this.el.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / this.rh) - 10);
    const last = Math.min(this.rows.length, Math.ceil((top + view) / this.rh) + 10);
    if (first === this.first && last === this.last) return;
    this.first = first;
    this.last = last;
    const frag = document.createDocumentFragment();
    for (let i = first; i < last; i++) {
      const r = this.rows[i];
      const row = h("div.vt-row", { role: "row", "data-key": this.o.rowKey(r), "data-index": i });
      if (this.o.rowClass) row.className += " " + this.o.rowClass(r);
      row.style.transform = `translateY(${i * this.rh}px)`;
      for (const c of this.o.columns) {
        const v = c.cell(r, i);
        const cell = h("div.vt-td", { role: "cell", style: `width:${c.width}px` }, v);
        if (typeof v === "string") cell.title = v;
        row.append(cell);
      }
      frag.append(row);
    }
    clear(this.body);
    this.body.append(frag);
    if (this.o.onNearEnd && last >= this.rows.length - 20) this.o.onNearEnd();
    this.footer.textContent = this.footerText;
  }

  private key(e: KeyboardEvent): void {
    const page = Math.max(1, Math.floor(this.el.clientHeight / this.rh) - 1) * this.rh;
    const moves: Record<string, number> = { ArrowDown: this.rh, ArrowUp: -this.rh, PageDown: page, PageUp: -page };
    if (e.key in moves) {
      this.el.scrollTop += moves[e.key];
      e.preventDefault();
    } else if (e.key === "Home") this.el.scrollTop = 0;
    else if (e.key === "End") this.el.scrollTop = this.el.scrollHeight;
  }
}
