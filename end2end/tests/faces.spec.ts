import { expect, test } from "@playwright/test";
import { Api, DossierPage, hydrated, logIn, PASSWORD, testPhoto, TINY_PNG, twoPeople, unique } from "./pages";

test("a photo must show one face: the refusal says how many and frames them on the preview", async ({ page }) => {
  const api = await Api.as("operator");
  const list = await api.watchList(unique("Faces"));
  const [id] = await api.dossiers(unique("Face check"), 1, list);
  await api.dispose();

  await logIn(page, "operator");
  await page.goto(`/dossiers/${id}`);
  await hydrated(page);
  const dossier = new DossierPage(page);

  await dossier.upload(await twoPeople(page));
  await expect(page.getByRole("alert")).toContainText("2 faces were found in the photo");
  await expect(page.getByTestId("face-box")).toHaveCount(2);

  await dossier.upload({ name: "blank.png", mimeType: "image/png", buffer: TINY_PNG });
  await expect(page.getByRole("alert")).toContainText("no face was found in the photo");
  await expect(dossier.noPhotos()).toBeVisible();

  await dossier.upload(testPhoto("obama.jpg"));
  await expect(dossier.thumbnails()).toHaveCount(1);
  await expect(page.getByTestId("gallery")).toContainText("vector: dlib-resnet-v1");
  await expect(page.getByRole("alert")).toHaveCount(0);
});

test("searching by another photo of a person finds their dossier first, above 0.75", async ({ page }) => {
  const api = await Api.as("operator");
  const listName = unique("Wanted faces");
  const list = await api.watchList(listName);
  const name = unique("Barack Obama");
  const [obama] = await api.dossiers(name, 1, list);
  await api.photo(obama, "obama.jpg");
  await api.dispose();

  await logIn(page, "viewer");
  await page.getByRole("link", { name: "Search by photo" }).click();
  const form = page.getByTestId("face-search");
  await form.getByLabel("Photo").setInputFiles(testPhoto("obama2.jpg"));
  await form.getByLabel("Watch list").selectOption({ label: listName });
  await form.getByLabel("Minimum confidence").fill("0.75");
  await form.getByRole("button", { name: "Search" }).click();

  // The results have an address of their own.
  await expect(page).toHaveURL(/\/faces\/search\?result=[0-9a-f]{32}$/);
  const results = page.getByTestId("face-results");
  await expect(results).toContainText("1 face found");
  await expect(results.getByTestId("face-box")).toHaveCount(1);
  const best = results.getByTestId("matches").locator("li").first();
  await expect(best).toContainText(name);
  await expect(best).toContainText(listName);
  const confidence = Number((await best.locator(".confidence").innerText()).replace("confidence ", ""));
  expect(confidence).toBeGreaterThan(0.75);
  await expect(best.getByRole("img")).toHaveJSProperty("complete", true);
  await expect(results.getByTestId("face-preview").getByRole("img")).toHaveJSProperty("naturalHeight", 512);

  // Someone else: no dossier of the list resembles him closely enough.
  await form.getByLabel("Photo").setInputFiles(testPhoto("biden.jpg"));
  await form.getByLabel("Watch list").selectOption({ label: listName });
  await form.getByLabel("Minimum confidence").fill("0.75");
  await form.getByRole("button", { name: "Search" }).click();
  await expect(results).toContainText("No dossier resembles this face closely enough.");

  // A file that is not a photo is refused with the reason, on the page.
  await form.getByLabel("Photo").setInputFiles({ name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("not a photo") });
  await form.getByRole("button", { name: "Search" }).click();
  await expect(page.getByRole("alert")).toContainText("is not a JPEG, PNG, WebP or GIF image");
});

test("search by photo works before the WASM loads", async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto("/login");
  await page.getByLabel("Username").fill("viewer");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.goto("/faces/search");
  await page.getByLabel("Photo").setInputFiles(testPhoto("obama2.jpg"));
  await page.getByRole("button", { name: "Search" }).click();
  await expect(page.getByTestId("face-results")).toContainText("1 face found");
  await context.close();
});
