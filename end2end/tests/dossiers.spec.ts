import { expect, test } from "@playwright/test";
import { hydrated, logIn, TINY_PNG, unique, WatchListsPage } from "./pages";

test("an operator creates a dossier with a photo, finds it, edits it and deletes it", async ({ page }) => {
  await logIn(page, "operator");
  const listName = unique("Case list");
  await new WatchListsPage(page).create(listName);
  await expect(page).toHaveURL(/\/watch-lists$/);

  const name = unique("Jane Roe");
  await page.goto("/dossiers/new");
  await hydrated(page);
  await page.getByLabel("Name").fill(name);
  await page.getByRole("checkbox", { name: listName }).check();
  await page.getByLabel("Meta (a JSON object)").fill('{"case": "A-17"}');
  await page.getByRole("button", { name: "Create" }).click();
  await expect(page.getByTestId("dossier-name")).toHaveText(name);
  await expect(page.getByText("No photos yet.")).toBeVisible();

  // Upload with progress; the thumbnail appears in the gallery.
  await page.getByLabel("Image (JPEG, PNG, WebP or GIF)").setInputFiles({
    name: "face.png",
    mimeType: "image/png",
    buffer: TINY_PNG,
  });
  await page.getByRole("button", { name: "Upload" }).click();
  const thumb = page.getByTestId("gallery").getByRole("img");
  await expect(thumb).toHaveCount(1);
  await expect(thumb).toHaveJSProperty("naturalWidth", 8);

  // A file that is not an image is refused with the reason.
  await page.getByLabel("Image (JPEG, PNG, WebP or GIF)").setInputFiles({
    name: "notes.txt",
    mimeType: "text/plain",
    buffer: Buffer.from("not a picture"),
  });
  await page.getByRole("button", { name: "Upload" }).click();
  await expect(page.getByRole("alert")).toContainText("is not a JPEG, PNG, WebP or GIF image");

  // Search by name shows it with its thumbnail; filtering by its list too.
  await page.goto("/dossiers");
  await hydrated(page);
  await page.getByRole("searchbox").fill(name);
  await page.getByRole("button", { name: "Search" }).click();
  const row = page.getByTestId("dossier-row");
  await expect(row).toHaveCount(1);
  await expect(row).toContainText(listName);
  await expect(row.locator("td.thumb img")).toHaveJSProperty("naturalWidth", 8);
  await page.getByLabel("Watch list").selectOption({ label: listName });
  await page.getByRole("searchbox").fill("");
  await page.getByRole("button", { name: "Search" }).click();
  await expect(page.getByTestId("dossier-row")).toHaveCount(1);

  // Edit.
  await row.getByRole("link", { name }).click();
  await page.getByRole("link", { name: "Edit" }).click();
  await hydrated(page);
  await page.getByLabel("Name").fill(`${name} Jr.`);
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.getByTestId("dossier-name")).toHaveText(`${name} Jr.`);

  // Removing the photo asks first; the gallery follows at once, and the removal is kept.
  await hydrated(page);
  page.once("dialog", (dialog) => dialog.accept());
  await page.getByRole("button", { name: "Remove photo" }).click();
  await expect(page.getByText("No photos yet.")).toBeVisible();
  await page.reload();
  await expect(page.getByText("No photos yet.")).toBeVisible();

  // Delete with confirmation.
  await page.getByRole("link", { name: "Delete" }).click();
  await expect(page.getByText("This cannot be undone.")).toBeVisible();
  await hydrated(page);
  await page.getByRole("button", { name: "Delete" }).click();
  await expect(page).toHaveURL(/\/dossiers$/);
  await page.goto(`/dossiers?q=${encodeURIComponent(name)}`);
  await expect(page.getByText("No dossier matches these filters.")).toBeVisible();
});

test("paging through ten thousand dossiers", async ({ page }) => {
  await logIn(page, "viewer");
  await page.goto("/dossiers?q=Demo%20person");
  const rows = page.getByTestId("dossier-row");
  await expect(rows).toHaveCount(50);
  const seen = new Set<string>();
  for (let i = 0; i < 5; i++) {
    for (const name of await rows.locator("td:nth-child(2)").allTextContents()) {
      expect(seen.has(name)).toBe(false);
      seen.add(name);
    }
    await page.getByRole("link", { name: "Next page »" }).click();
    await expect(page).toHaveURL(/after=\d+/);
    await expect(rows).toHaveCount(50);
  }
  expect(seen.size).toBe(250);
  await page.getByRole("link", { name: "« First page" }).click();
  await expect(rows.first()).toContainText("Demo person 010000");

  // The last page: the filter for inactive dossiers leaves 1000, i.e. 20 pages.
  await page.goto("/dossiers?q=Demo%20person&active=false&after=2000");
  await expect(rows).toHaveCount(50);
  await expect(rows.first()).toContainText("Demo person 001990");
});
