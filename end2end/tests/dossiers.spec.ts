import { expect, test } from "@playwright/test";
import { Api, DossierForm, DossierPage, DossiersPage, logIn, testPhoto, unique, WatchListsPage } from "./pages";

test("an operator creates a dossier with a photo, finds it, edits it and deletes it", async ({ page }) => {
  await logIn(page, "operator");
  const listName = unique("Case list");
  await new WatchListsPage(page).create(listName);
  await expect(page).toHaveURL(/\/watch-lists\?done=list-created$/);
  await expect(page.getByTestId("notice")).toContainText("Watch list created.");

  const name = unique("Jane Roe");
  await new DossierForm(page).create(name, listName, '{"case": "A-17"}');
  const dossier = new DossierPage(page);
  await expect(dossier.name()).toHaveText(name);
  await expect(dossier.noPhotos()).toBeVisible();

  // Upload with progress; the thumbnail (160 px high) appears in the gallery.
  await dossier.upload(testPhoto("obama.jpg"));
  await expect(dossier.thumbnails()).toHaveCount(1);
  await expect(dossier.thumbnails()).toHaveJSProperty("naturalHeight", 160);

  // A file that is not an image is refused with the reason.
  await dossier.upload({ name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("not a picture") });
  await expect(page.getByRole("alert")).toContainText("is not a JPEG, PNG, WebP or GIF image");

  // Search by name shows it with its thumbnail; filtering by its list too.
  const search = new DossiersPage(page);
  await search.open();
  await search.search(name);
  await expect(search.rows()).toHaveCount(1);
  await expect(search.rows()).toContainText(listName);
  await expect(search.rows().locator("td.thumb img")).toHaveJSProperty("naturalHeight", 160);
  await search.search("", listName);
  await expect(search.rows()).toHaveCount(1);

  // Edit.
  await search.rows().getByRole("link", { name }).click();
  await page.getByRole("link", { name: "Edit" }).click();
  await new DossierForm(page).rename(`${name} Jr.`);
  await expect(dossier.name()).toHaveText(`${name} Jr.`);

  // Removing the photo asks first; the gallery follows at once, and the removal is kept.
  await dossier.removePhoto();
  await expect(dossier.noPhotos()).toBeVisible();
  await page.reload();
  await expect(dossier.noPhotos()).toBeVisible();

  // Delete with confirmation.
  await dossier.delete();
  await expect(page).toHaveURL(/\/dossiers\?done=dossier-deleted$/);
  await expect(page.getByTestId("notice")).toContainText("Dossier deleted.");
  await page.goto(`/dossiers?q=${encodeURIComponent(name)}`);
  await expect(page.getByText("No dossier matches these filters.")).toBeVisible();
});

test("paging through a list's dossiers shows each once, newest first", async ({ page }) => {
  // 120 dossiers of its own: two full pages of 50 and a last one of 20.
  const api = await Api.as("operator");
  const list = unique("Paging");
  const listId = await api.watchList(list);
  const prefix = unique("Pager");
  await api.dossiers(prefix, 120, listId);
  await api.dispose();

  await logIn(page, "viewer");
  const search = new DossiersPage(page);
  await search.open(`?q=${encodeURIComponent(prefix)}`);
  await expect(search.rows()).toHaveCount(50);
  await expect(search.rows().first()).toContainText(`${prefix} 120`);
  const seen = new Set<string>();
  for (const expected of [50, 50, 20]) {
    await expect(search.rows()).toHaveCount(expected);
    for (const name of await search.names()) {
      expect(seen.has(name)).toBe(false);
      seen.add(name);
    }
    if (expected === 20) break;
    await search.nextPage().click();
    await expect(page).toHaveURL(/after=\d+/);
  }
  expect(seen.size).toBe(120);
  await expect(search.nextPage()).toHaveCount(0);
  await expect(search.rows().last()).toContainText(`${prefix} 001`);
  await search.firstPage().click();
  await expect(search.rows().first()).toContainText(`${prefix} 120`);
});
