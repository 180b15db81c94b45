// Page objects, one per page of the app, and the seeding helper every spec uses to create its
// own data through the API (no spec depends on another's data or on the demo data's numbering).
import { APIRequestContext, expect, Page, request as playwrightRequest } from "@playwright/test";
import { readFileSync } from "node:fs";
import { join } from "node:path";

export const PASSWORD = "e2e-password";

/** The server under test (as in playwright.config.ts). */
export const SITE = `http://${process.env.LEPTOS_SITE_ADDR ?? "127.0.0.1:3000"}`;

/** The Leader that scripts/test.sh starts beside the server under test (the Subscriber). */
export const LEADER = `http://${process.env.LEADER_ADDR ?? "127.0.0.1:3918"}`;

/** Waits until the WASM has hydrated the page's islands (the app then sets this attribute). */
export async function hydrated(page: Page) {
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
}

/** A name no other test run has used. */
export function unique(prefix: string) {
  return `${prefix} ${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;
}

/** face_recognition's test photos (scripts/face-data.sh puts them in data/test-photos). */
export function testPhoto(name: string) {
  return {
    name,
    mimeType: name.endsWith(".png") ? "image/png" : "image/jpeg",
    buffer: readFileSync(join(__dirname, "../../data/test-photos", name)),
  };
}

/** Two test photos side by side as one JPEG (a photo with two faces), drawn by the browser. */
export async function twoPeople(page: Page) {
  const [left, right] = ["obama.jpg", "biden.jpg"].map((n) => testPhoto(n).buffer.toString("base64"));
  const dataUrl = await page.evaluate(async ([a, b]) => {
    const load = (data: string) =>
      new Promise<HTMLImageElement>((resolve, reject) => {
        const img = new Image();
        img.onload = () => resolve(img);
        img.onerror = reject;
        img.src = `data:image/jpeg;base64,${data}`;
      });
    const [l, r] = [await load(a), await load(b)];
    const canvas = document.createElement("canvas");
    canvas.width = l.naturalWidth + r.naturalWidth;
    canvas.height = Math.max(l.naturalHeight, r.naturalHeight);
    const context = canvas.getContext("2d")!;
    context.drawImage(l, 0, 0);
    context.drawImage(r, l.naturalWidth, 0);
    return canvas.toDataURL("image/jpeg", 0.9);
  }, [left, right]);
  return { name: "two.jpg", mimeType: "image/jpeg", buffer: Buffer.from(dataUrl.split(",")[1], "base64") };
}

/** An 8×8 PNG without a face, for uploads that must be refused. */
export const TINY_PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAIAAABLbSncAAAAEUlEQVR4nGM4UWGDFTEMLQkAQfNfAVTFtrMAAAAASUVORK5CYII=",
  "base64",
);

/** The JSON API of one installation, logged in as one user: what specs seed their data with. */
export class Api {
  private constructor(private http: APIRequestContext) {}

  static async as(username: string, baseURL = SITE, password = PASSWORD) {
    const http = await playwrightRequest.newContext({ baseURL });
    const answer = await http.post("/api/auth/login", {
      headers: { "Content-Type": "application/json" },
      data: { username, password },
    });
    expect(answer.ok(), `log in as ${username}`).toBe(true);
    return new Api(http);
  }

  async call(endpoint: string, data: object = {}) {
    const answer = await this.http.post(`/api/${endpoint}`, {
      headers: { "Content-Type": "application/json" },
      data,
    });
    expect(answer.ok(), `${endpoint}: ${await answer.text()}`).toBe(true);
    return answer.json();
  }

  async watchList(name: string): Promise<number> {
    return (await this.call("watch-lists/create", { name })).id;
  }

  /** Dossiers `${prefix} 001` … in order of creation (so the newest has the highest number). */
  async dossiers(prefix: string, count: number, list: number, active = true): Promise<number[]> {
    const ids = [];
    for (let i = 1; i <= count; i++) {
      const name = `${prefix} ${String(i).padStart(3, "0")}`;
      ids.push((await this.call("dossiers/create", { name, active, watch_lists: [list] })).id);
    }
    return ids;
  }

  /** Adds a real face (a test photo) to a dossier as its photo. */
  async photo(dossier: number, name = "obama.jpg") {
    const answer = await this.http.post("/api/photos/upload", {
      multipart: { dossier_id: String(dossier), image: testPhoto(name) },
    });
    expect(answer.ok(), `photos/upload: ${await answer.text()}`).toBe(true);
  }

  /** A camera's post of a test photo (the caller's group must may post events). */
  async event(camera: string, photo: string) {
    const answer = await this.http.post("/api/events/faces", {
      multipart: { camera, image: testPhoto(photo) },
    });
    expect(answer.status(), `events/faces: ${await answer.text()}`).toBe(201);
    return answer.json();
  }

  async dispose() {
    await this.http.dispose();
  }
}

export class LoginPage {
  constructor(private page: Page) {}

  async open() {
    await this.page.goto("/login");
  }

  async submit(username: string, password = PASSWORD) {
    await this.page.getByLabel("Username").fill(username);
    await this.page.getByLabel("Password").fill(password);
    await this.page.getByRole("button", { name: "Log in" }).click();
  }

  error() {
    return this.page.getByRole("alert");
  }
}

export async function logIn(page: Page, username: string, password = PASSWORD) {
  const login = new LoginPage(page);
  await login.open();
  await hydrated(page);
  await login.submit(username, password);
  await expect(page.getByTestId("whoami")).toContainText(username);
}

export class WatchListsPage {
  constructor(private page: Page) {}

  async open() {
    await this.page.goto("/watch-lists");
    await hydrated(this.page);
  }

  rows() {
    return this.page.getByTestId("watch-list-row");
  }

  row(name: string) {
    return this.rows().filter({ hasText: name });
  }

  async create(name: string, options: { threshold?: string; comment?: string } = {}) {
    await this.page.goto("/watch-lists/new");
    await hydrated(this.page);
    await this.page.getByLabel("Name").fill(name);
    if (options.comment) await this.page.getByLabel("Comment").fill(options.comment);
    if (options.threshold) await this.page.getByLabel(/Confidence threshold/).fill(options.threshold);
    await this.page.getByRole("button", { name: "Create" }).click();
  }

  /** The edit form of a list (reached from its row). */
  async edit(name: string) {
    await this.row(name).getByRole("link", { name: "Edit" }).click();
    await hydrated(this.page);
  }

  fieldError(field: string) {
    return this.page.locator(`[data-field="${field}"]`);
  }
}

/** The dossier search page. */
export class DossiersPage {
  constructor(private page: Page) {}

  async open(query = "") {
    await this.page.goto(`/dossiers${query}`);
    await hydrated(this.page);
  }

  rows() {
    return this.page.getByTestId("dossier-row");
  }

  async search(text: string, list?: string) {
    if (list) await this.page.getByLabel("Watch list").selectOption({ label: list });
    await this.page.getByRole("searchbox").fill(text);
    await this.page.getByRole("button", { name: "Search" }).click();
  }

  async names() {
    return this.rows().locator("td:nth-child(2)").allTextContents();
  }

  nextPage() {
    return this.page.getByRole("link", { name: "Next page »" });
  }

  firstPage() {
    return this.page.getByRole("link", { name: "« First page" });
  }
}

/** The new and edit forms of a dossier. */
export class DossierForm {
  constructor(private page: Page) {}

  async create(name: string, list: string, meta?: string) {
    await this.page.goto("/dossiers/new");
    await hydrated(this.page);
    await this.page.getByLabel("Name").fill(name);
    await this.page.getByRole("checkbox", { name: list }).check();
    if (meta) await this.page.getByLabel("Meta (a JSON object)").fill(meta);
    await this.page.getByRole("button", { name: "Create" }).click();
  }

  async rename(name: string) {
    await hydrated(this.page);
    await this.page.getByLabel("Name").fill(name);
    await this.page.getByRole("button", { name: "Save" }).click();
  }
}

/** One dossier: its fields and the photo gallery with the upload. */
export class DossierPage {
  constructor(private page: Page) {}

  name() {
    return this.page.getByTestId("dossier-name");
  }

  thumbnails() {
    return this.page.getByTestId("gallery").getByRole("img");
  }

  noPhotos() {
    return this.page.getByText("No photos yet.");
  }

  async upload(file: { name: string; mimeType: string; buffer: Buffer }) {
    await this.page.getByLabel("Image (JPEG, PNG, WebP or GIF)").setInputFiles(file);
    await this.page.getByRole("button", { name: "Upload" }).click();
  }

  async removePhoto() {
    await hydrated(this.page);
    // Asked first, in the page (no dialog: the Content-Security-Policy allows no inline handler).
    await this.page.getByText("Remove…").first().click();
    await expect(this.page.getByText("Remove this photo?").first()).toBeVisible();
    await this.page.getByRole("button", { name: "Remove photo" }).first().click();
  }

  /** Deletes the dossier through its confirmation page. */
  async delete() {
    await this.page.getByRole("link", { name: "Delete" }).click();
    await expect(this.page.getByText("This cannot be undone.")).toBeVisible();
    await hydrated(this.page);
    await this.page.getByRole("button", { name: "Delete" }).click();
  }
}

export class UsersPage {
  constructor(private page: Page) {}

  async open() {
    await this.page.goto("/users");
    await hydrated(this.page);
  }

  row(username: string) {
    return this.page.getByTestId("user-row").filter({ hasText: username });
  }

  async create(username: string, password: string, group: string) {
    await this.page.getByLabel("Username").fill(username);
    await this.page.getByLabel("Password").fill(password);
    await this.page.getByLabel("Group", { exact: true }).selectOption(group);
    await this.page.getByRole("button", { name: "Create user" }).click();
  }

  async issueToken(username: string) {
    await this.row(username).getByRole("button", { name: "Issue API token" }).click();
    return (await this.page.getByTestId("api-token").textContent())!.trim();
  }
}

export class ReplicationPage {
  constructor(private page: Page) {}

  async open() {
    await this.page.goto("/replication");
    await hydrated(this.page);
  }

  row(localList: string) {
    return this.page.getByTestId("replica-row").filter({ hasText: localList });
  }

  async create(leader: string, remoteList: string, localList: string) {
    await this.page.getByLabel("Leader URL").fill(leader);
    await this.page.getByRole("button", { name: "Load the Leader's lists" }).click();
    await this.page.getByLabel("Leader's list").selectOption({ label: remoteList });
    await this.page.getByLabel("Empty local list").selectOption({ label: localList });
    await hydrated(this.page);
    await this.page.getByRole("button", { name: "Create replica" }).click();
  }

  /** Cancels a replica through its confirmation page. */
  async cancel(localList: string) {
    await this.row(localList).getByRole("link", { name: "Cancel" }).click();
    await expect(this.page.getByText("The local list keeps its dossiers")).toBeVisible();
    await hydrated(this.page);
    await this.page.getByRole("button", { name: "Cancel replica" }).click();
  }
}
