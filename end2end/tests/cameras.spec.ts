import { expect, test } from "@playwright/test";
import { join } from "node:path";
import { hydrated, logIn, unique } from "./pages";

/** The demo video (scripts/demo-video.sh): Barack Obama at 1–4 s and 9–12 s, Joe Biden at 17–20 s. */
const DEMO_VIDEO = join(__dirname, "../../data/demo-video/people.mp4");

test("an administrator adds a camera, watches it stream, sees its people as events, and deletes it", async ({ page }) => {
  test.setTimeout(90_000);
  const blocked: string[] = [];
  page.on("console", (message) => {
    if (message.text().includes("Content Security Policy")) blocked.push(message.text());
  });
  const camera = unique("door").replace(" ", "-");

  await logIn(page, "admin");
  await page.getByRole("link", { name: "Cameras" }).click();
  await hydrated(page);
  const form = page.getByTestId("new-camera");
  await form.getByLabel("Stream").fill("ftp://example.org/stream");
  await form.getByLabel("Name").fill(camera);
  await form.getByRole("button", { name: "Add camera" }).click();
  // Refused, with the field named, and nothing added.
  await expect(page.getByRole("alert")).toContainText(/url: ftp:\/\/ is not a stream/i);
  await expect(page.getByTestId("camera").filter({ hasText: camera })).toHaveCount(0);
  // What was typed is still there, to be corrected.
  await expect(form.getByLabel("Name")).toHaveValue(camera);

  await form.getByLabel("Stream").fill(DEMO_VIDEO);
  await form.getByRole("button", { name: "Add camera" }).click();
  await expect(page.getByText("Camera added")).toBeVisible();
  const card = page.getByTestId("camera").filter({ hasText: camera });
  await expect(card.getByTestId("camera-url")).toHaveText(DEMO_VIDEO);

  // The server's own video worker takes it; the status updates without a reload.
  await expect(card.getByTestId("camera-status")).toHaveAttribute("data-state", "streaming", { timeout: 30_000 });
  await expect(card.getByTestId("camera-status")).toContainText("frames analysed a second");
  const snapshot = card.getByRole("img", { name: "The camera's latest frame" });
  await expect(snapshot).toBeVisible({ timeout: 10_000 });
  await expect(snapshot).toHaveJSProperty("complete", true);
  expect(await snapshot.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(0);

  // The first person in the video becomes an event of this camera, with the frame it was seen in.
  await page.goto(`/events?camera=${camera}`);
  const event = page.getByTestId("event").first();
  await expect(event).toBeVisible({ timeout: 30_000 });
  await expect(event.getByRole("img", { name: /frame/i })).toBeVisible();

  await page.getByRole("link", { name: "Cameras" }).click();
  await hydrated(page);
  await card.getByText("Delete…").click();
  await card.getByRole("button", { name: "Delete camera" }).click();
  await expect(page.getByText("Camera deleted; its events stay.")).toBeVisible();
  await expect(page.getByTestId("camera").filter({ hasText: camera })).toHaveCount(0);
  expect(blocked).toEqual([]);
});
