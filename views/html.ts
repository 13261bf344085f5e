// A tagged template that escapes every interpolated value unless it is SafeHtml,
// so a page can only contain markup that was written as markup.

const ESCAPES: Record<string, string> = {
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;',
};

export class SafeHtml {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  toString(): string {
    return this.#value;
  }
}

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"'`]/g, (c) => ESCAPES[c]);
}

/**
 * Unicode's explicit bidirectional controls (embeddings, overrides, isolates,
 * marks). Inside interpolated text they would reorder the page around it: a
 * client_name ending in U+202E shows the host that follows it reversed. Plain
 * right-to-left text needs none of them, so they are dropped.
 */
const BIDI_CONTROLS = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/g;

function render(value: unknown): string {
  if (value instanceof SafeHtml) return value.toString();
  if (Array.isArray(value)) return value.map(render).join('');
  // null/undefined/false render as nothing so `${cond && html`...`}` reads naturally.
  if (value === null || value === undefined || value === false) return '';
  return escapeHtml(String(value).replace(BIDI_CONTROLS, ''));
}

export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0];
  for (let i = 0; i < values.length; i += 1) out += render(values[i]) + strings[i + 1];
  return new SafeHtml(out);
}

/** Marks a string as trusted markup. Only for strings that never contain user input. */
export function raw(trusted: string): SafeHtml {
  return new SafeHtml(trusted);
}
