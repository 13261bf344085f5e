import { createHash } from 'node:crypto';
import { html, raw, type SafeHtml } from './html.ts';

// Inline and self-contained: the pages load nothing from the network and run no script.
const CSS = `
:root{--bg:#f3f4f6;--card:#fff;--text:#1a1f26;--muted:#566170;--line:#dde1e6;--field:#8c96a3;
--accent:#1f4fd1;--accent-hover:#183fa8;--accent-text:#fff;--focus:#f5a524;
--alert-bg:#fdeceb;--alert-line:#c0392b;--alert-text:#7d1f16;color-scheme:light dark}
@media (prefers-color-scheme:dark){:root{--bg:#111418;--card:#1b2027;--text:#e8ebef;--muted:#a3adb9;
--line:#2f3640;--field:#6b7683;--accent:#5b8cff;--accent-hover:#7aa2ff;--accent-text:#0b1220;
--alert-bg:#3a1a18;--alert-line:#ff7b6b;--alert-text:#ffd4ce}}
*,*::before,*::after{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0;min-height:100vh;display:flex;flex-direction:column;align-items:center;
padding:2rem 1rem 1rem;background:var(--bg);color:var(--text);
font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
.brand{display:flex;align-items:center;gap:.5rem;margin:0 0 1.25rem;font-weight:700;font-size:1.05rem;letter-spacing:.02em}
.brand::before{content:"";width:1.1rem;height:1.1rem;border-radius:.2rem;
background:conic-gradient(var(--accent) 0 25%,transparent 0 50%,var(--accent) 0 75%,transparent 0);
box-shadow:inset 0 0 0 2px var(--accent)}
main{width:100%;max-width:26rem;overflow-wrap:anywhere;background:var(--card);border:1px solid var(--line);border-radius:12px;
padding:1.5rem 1.25rem;box-shadow:0 1px 2px rgba(0,0,0,.04),0 8px 24px rgba(0,0,0,.06)}
@media (min-width:30rem){main{padding:2rem}}
main>:last-child{margin-bottom:0}
h1{font-size:1.5rem;line-height:1.25;margin:0 0 .5rem}
h2{font-size:1rem;margin:1.25rem 0 .25rem}
p{margin:0 0 1rem}
.lead{color:var(--muted)}
.muted{color:var(--muted);font-size:.875rem}
form{margin:0}
.field{margin:0 0 1rem}
label{display:block;font-weight:600;margin:0 0 .35rem}
input[type=text],input[type=password]{display:block;width:100%;font:inherit;font-size:1rem;color:inherit;
background:var(--card);padding:.65rem .75rem;border:1px solid var(--field);border-radius:8px}
input:focus,button:focus-visible{outline:3px solid var(--focus);outline-offset:2px}
button{display:block;width:100%;font:inherit;font-weight:600;padding:.7rem 1rem;border-radius:8px;cursor:pointer;
border:1px solid var(--accent);background:var(--accent);color:var(--accent-text)}
button:hover{background:var(--accent-hover);border-color:var(--accent-hover)}
button.secondary{background:transparent;color:var(--text);border-color:var(--field)}
button.secondary:hover{background:var(--bg)}
.actions{display:grid;gap:.75rem;margin-top:1.5rem}
.alert{margin:0 0 1rem;padding:.75rem .9rem;border-left:4px solid var(--alert-line);border-radius:6px;
background:var(--alert-bg);color:var(--alert-text)}
ul.scopes{list-style:none;margin:0 0 .5rem;padding:0;border-top:1px solid var(--line)}
ul.scopes li{padding:.6rem 0 .6rem 1.6rem;border-bottom:1px solid var(--line);position:relative}
ul.scopes li::before{content:"";position:absolute;left:.25rem;top:1.05rem;width:.5rem;height:.5rem;border-radius:50%;background:var(--accent)}
ul.scopes code{display:block;color:var(--muted);font-size:.8rem;overflow-wrap:anywhere}
section{margin-top:1.5rem;padding-top:1rem;border-top:1px solid var(--line)}
h3{font-size:1rem;margin:0 0 .35rem}
a{color:var(--accent)}
ul.items{list-style:none;margin:0 0 1rem;padding:0}
ul.items>li{padding:.75rem 0;border-bottom:1px solid var(--line)}
ul.items>li>:last-child{margin-bottom:0}
ul.items>li:last-child{border-bottom:0}
ul.items .scopes{margin-bottom:.75rem}
.tag{font-size:.75rem;font-weight:600;padding:.1rem .4rem;border-radius:4px;border:1px solid var(--field);color:var(--muted);white-space:nowrap}
.notice{margin:0 0 1rem;padding:.75rem .9rem;border-left:4px solid var(--accent);border-radius:6px;background:var(--bg)}
[hidden]{display:none!important}
.visually-hidden{position:absolute;width:1px;height:1px;margin:-1px;padding:0;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap;border:0}
footer{margin-top:1.25rem;text-align:center;color:var(--muted);font-size:.75rem;max-width:26rem;overflow-wrap:anywhere}
`.trim();

/** For a Content-Security-Policy `style-src` that allows exactly this stylesheet. */
export const LAYOUT_STYLE_HASH = `sha256-${createHash('sha256').update(CSS).digest('base64')}`;

export interface LayoutOptions {
  title: string;
  body: SafeHtml;
  requestId?: string;
}

export function layout({ title, body, requestId }: LayoutOptions): string {
  return html`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>${title} · Tessera</title>
<style>${raw(CSS)}</style>
</head>
<body>
<header class="brand">Tessera</header>
<main>
${body}
</main>
${requestId ? html`<footer>Request ID: <code>${requestId}</code></footer>` : ''}
</body>
</html>
`.toString();
}
