/** Competition descriptions: Markdown rendered to HTML, then sanitised (no scripts, no handlers). */
import DOMPurify from 'dompurify';
import { marked } from 'marked';

// Images without a description are decorative to screen readers rather than unlabeled.
DOMPurify.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'IMG' && !node.hasAttribute('alt')) node.setAttribute('alt', '');
  if (node.tagName === 'A' && node.getAttribute('href')?.startsWith('http')) node.setAttribute('rel', 'noopener noreferrer');
});

export function renderMarkdown(source: string): string {
  const html = marked.parse(source, { async: false, gfm: true, breaks: false });
  return DOMPurify.sanitize(html, { USE_PROFILES: { html: true }, FORBID_TAGS: ['style', 'form', 'input'], FORBID_ATTR: ['style'] });
}
