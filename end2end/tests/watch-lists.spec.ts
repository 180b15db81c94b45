import { expect, test } from "@playwright/test";
import { hydrated, logIn, unique, WatchListsPage } from "./pages";

test("an operator creates two watch lists, edits one and deletes it after confirming", async ({ page }) => {
  await logIn(page, "operator");
  const lists = new WatchListsPage(page);
  const first = unique("Wanted");
  const second = unique("Guests");
  await lists.create(first, { threshold: "0.8", comment: "armed and dangerous" });
  await expect(page).toHaveURL(/\/watch-lists\?done=list-created$/);
  await expect(page.getByTestId("notice")).toContainText("Watch list created.");
  await expect(lists.row(first)).toContainText("0.80");
  await lists.create(second);
  await expect(lists.row(second)).toBeVisible();

  // A bad value is shown beside its field and nothing is saved.
  await lists.edit(second);
  await page.getByLabel(/Confidence threshold/).fill("1.5");
  await page.getByRole("button", { name: "Save" }).click();
  await expect(lists.fieldError("confidence_threshold")).toContainText("must be a number from 0 to 1");
  const renamed = `${second} (renamed)`;
  await page.getByLabel(/Confidence threshold/).fill("");
  await page.getByLabel("Name").fill(renamed);
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page).toHaveURL(/\/watch-lists\?done=list-saved$/);
  await expect(page.getByTestId("notice")).toContainText("Watch list saved.");
  await expect(lists.row(renamed)).toBeVisible();

  // A duplicate name is refused beside the name field.
  await lists.create(first);
  await expect(lists.fieldError("name")).toContainText("already exists");

  // Delete asks first; cancelling keeps the list.
  await lists.open();
  await lists.row(renamed).getByRole("link", { name: "Delete" }).click();
  await expect(page.getByText(`Delete the watch list ${renamed}?`)).toBeVisible();
  await page.getByRole("link", { name: "Cancel" }).click();
  await expect(lists.row(renamed)).toBeVisible();
  await lists.row(renamed).getByRole("link", { name: "Delete" }).click();
  await hydrated(page);
  await page.getByRole("button", { name: "Delete" }).click();
  await expect(page).toHaveURL(/\/watch-lists\?done=list-deleted$/);
  await expect(page.getByTestId("notice")).toContainText("Watch list deleted");
  await expect(lists.row(first)).toBeVisible();
  await expect(lists.row(renamed)).toHaveCount(0);
});
