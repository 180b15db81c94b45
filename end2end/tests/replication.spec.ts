import { expect, test } from "@playwright/test";
import { hydrated, logIn, unique, WatchListsPage } from "./pages";

// scripts/test.sh starts a Leader (with 120 demo dossiers) at LEADER_ADDR beside the server
// under test, which plays the Subscriber; both share SYNC_TOKEN.
const leader = `http://${process.env.LEADER_ADDR ?? "127.0.0.1:3918"}`;

test("an administrator replicates a Leader's list, sees it read-only, and cancels it", async ({ page }) => {
  // A hydration mismatch shows only as a panic in the console (the page then stops updating).
  const panics: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error" && message.text().includes("panicked")) panics.push(message.text());
  });
  await logIn(page, "admin");
  const local = unique("Replica of wanted");
  await new WatchListsPage(page).create(local);
  await expect(page).toHaveURL(/\/watch-lists$/);

  await page.getByRole("link", { name: "Replication" }).click();
  await hydrated(page);
  await page.getByLabel("Leader URL").fill(leader);
  await page.getByRole("button", { name: "Load the Leader's lists" }).click();
  await page.getByLabel("Leader's list").selectOption({ label: "Demo: wanted (60 dossiers)" });
  await page.getByLabel("Empty local list").selectOption({ label: local });
  await hydrated(page);
  await page.getByRole("button", { name: "Create replica" }).click();

  // It syncs at once (SYNC_AT_CREATION) and the page follows its progress live.
  const row = page.getByTestId("replica-row").filter({ hasText: local });
  await expect(row.getByTestId("replica-state")).toHaveText("idle", { timeout: 30_000 });
  await expect(row.getByTestId("replica-last-success")).toContainText("UTC");
  await expect(row.getByTestId("replica-progress")).toContainText("60 of 60 items");

  // The replica is read-only here.
  await page.goto("/watch-lists");
  const listRow = new WatchListsPage(page).row(local);
  await expect(listRow.getByTestId("replica-badge")).toBeVisible();
  await expect(listRow).toContainText("60");
  await expect(listRow.getByRole("link", { name: "Edit" })).toHaveCount(0);
  await listRow.getByRole("link", { name: local }).click();
  await page.getByTestId("dossier-row").first().getByRole("link").first().click();
  await expect(page.getByTestId("replica-badge")).toBeVisible();
  await expect(page.getByRole("link", { name: "Edit" })).toHaveCount(0);

  // Cancel, after confirming: the list keeps its dossiers and is editable again.
  await page.goto("/replication");
  await page.getByTestId("replica-row").filter({ hasText: local }).getByRole("link", { name: "Cancel" }).click();
  await expect(page.getByText("The local list keeps its dossiers")).toBeVisible();
  await hydrated(page);
  await page.getByRole("button", { name: "Cancel replica" }).click();
  await expect(page).toHaveURL(/\/replication$/);
  await expect(page.getByTestId("replica-row").filter({ hasText: local })).toHaveCount(0);
  await page.goto("/watch-lists");
  const after = new WatchListsPage(page).row(local);
  await expect(after.getByRole("link", { name: "Edit" })).toBeVisible();
  await expect(after).toContainText("60");
  expect(panics).toEqual([]);
});
