// Page objects and helpers shared by the browser tests.
import { expect, Page } from "@playwright/test";

export const PASSWORD = "e2e-password";

/** Waits until the WASM has hydrated the page's islands (the app then sets this attribute). */
export async function hydrated(page: Page) {
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
}

export async function logIn(page: Page, username: string, password = PASSWORD) {
  await page.goto("/login");
  await hydrated(page);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.getByTestId("whoami")).toContainText(username);
}

/** A name no other test run has used. */
export function unique(prefix: string) {
  return `${prefix} ${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;
}

export class WatchListsPage {
  constructor(private page: Page) {}

  async open() {
    await this.page.goto("/watch-lists");
    await hydrated(this.page);
  }

  row(name: string) {
    return this.page.getByTestId("watch-list-row").filter({ hasText: name });
  }

  async create(name: string, options: { threshold?: string; comment?: string } = {}) {
    await this.page.goto("/watch-lists/new");
    await hydrated(this.page);
    await this.page.getByLabel("Name").fill(name);
    if (options.comment) await this.page.getByLabel("Comment").fill(options.comment);
    if (options.threshold) await this.page.getByLabel(/Confidence threshold/).fill(options.threshold);
    await this.page.getByRole("button", { name: "Create" }).click();
  }
}

/** An 8×8 PNG, for uploads. */
export const TINY_PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAIAAABLbSncAAAAEUlEQVR4nGM4UWGDFTEMLQkAQfNfAVTFtrMAAAAASUVORK5CYII=",
  "base64",
);
