// sse.js - a Server-Sent Events parser for streamed chat replies.
//
// fetch() gives the stream as bytes; EventSource cannot POST. SSEParser
// takes text as it arrives (in any pieces) and returns the complete
// events' data payloads; readEvents drives it from a fetch Response.

export class SSEParser {
  constructor() {
    this.buf = '';
    this.data = [];
  }

  // Feeds text; returns the data of every event completed by it.
  push(text) {
    this.buf += text;
    const out = [];
    for (;;) {
      const nl = this.buf.search(/\r\n|\r|\n/);
      if (nl < 0) break;
      // A lone \r at the very end may be the first half of \r\n.
      if (this.buf[nl] === '\r' && nl === this.buf.length - 1) break;
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + (this.buf.startsWith('\r\n', nl) ? 2 : 1));
      if (line === '') {
        if (this.data.length) out.push(this.data.join('\n'));
        this.data = [];
      } else if (line.startsWith(':')) {
        // a comment (keep-alive)
      } else {
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? '' : line.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'data') this.data.push(value);
      }
    }
    return out;
  }

  // The end of the stream: an event without its blank line still counts.
  end() {
    const out = [];
    if (this.buf) out.push(...this.push('\n'));
    if (this.data.length) out.push(this.data.join('\n'));
    this.data = [];
    return out;
  }
}

// Yields the data payloads of a streamed fetch Response.
export async function* readEvents(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  const parser = new SSEParser();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      yield* parser.push(decoder.decode(value, { stream: true }));
    }
    yield* parser.push(decoder.decode());
    yield* parser.end();
  } finally {
    reader.releaseLock();
  }
}
