/**
 * Headless Chromium for the browser tests (Debian's /usr/bin/chromium through playwright-core, never
 * a downloaded build): the launch, a page that records its console problems and every request, and
 * the pixels each chart drew.
 */
import { chromium, type Browser, type Page } from 'playwright-core';

/** Offline and quiet: no sandbox (containers), no GPU, no background traffic of its own. */
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
}

export interface WatchedPage {
  page: Page;
  /** Console errors and warnings, and uncaught page errors. */
  problems: string[];
  /** Every URL the page requested. */
  requests: string[];
}

/** A new page at `url`, its console problems and requests recorded from the start. */
export async function openPage(browser: Browser, url: string, viewport: { width: number; height: number }): Promise<WatchedPage> {
  const page = await browser.newPage({ viewport });
  const problems: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(url);
  return { page, problems, requests };
}

export interface ChartPixels {
  chart: string;
  width: number;
  height: number;
  /** Pixels drawn at all. */
  inked: number;
  /** Opaque pixels close to one of the chart's series colours. */
  colored: number;
}

/** Per chart (`figure.chart[data-chart]`): canvas size, non-blank pixels, and pixels of the given series colours (`#rrggbb`). */
export async function chartPixels(page: Page, colors: Record<string, readonly string[]>): Promise<ChartPixels[]> {
  return page.evaluate((colorByChart) => {
    const hex = (h: string): number[] => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16));
    return [...document.querySelectorAll('figure.chart')].map((fig) => {
      const chart = fig.getAttribute('data-chart') ?? '';
      const canvas = fig.querySelector('canvas');
      if (!canvas) return { chart, width: 0, height: 0, inked: 0, colored: 0 };
      const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      const wants = (colorByChart[chart] ?? []).map(hex);
      let inked = 0;
      let colored = 0;
      for (let i = 0; i < data.length; i += 4) {
        if (data[i + 3]! > 0) inked++;
        if (data[i + 3]! > 200 && wants.some((w) => Math.abs(data[i]! - w[0]!) + Math.abs(data[i + 1]! - w[1]!) + Math.abs(data[i + 2]! - w[2]!) < 40)) colored++;
      }
      return { chart, width: canvas.width, height: canvas.height, inked, colored };
    });
  }, colors);
}
