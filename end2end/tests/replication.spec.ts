import { expect, test } from "@playwright/test";
import { Api, hydrated, LEADER, logIn, ReplicationPage, unique, WatchListsPage } from "./pages";

// scripts/test.sh starts a Leader at LEADER_ADDR beside the server under test, which plays the
// Subscriber; both share SYNC_TOKEN. The spec seeds the Leader's list itself.
test("an administrator replicates a Leader's list, sees it read-only, and cancels it", async ({ page }) => {
  const leader = await Api.as("admin", LEADER);
  const remote = unique("Wanted on the Leader");
  const remoteId = await leader.watchList(remote);
  await leader.dossiers(unique("Suspect"), 7, remoteId);
  await leader.dispose();

  // A hydration mismatch shows only as a panic in the console (the page then stops updating).
  const panics: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error" && message.text().includes("panicked")) panics.push(message.text());
  });
  await logIn(page, "admin");
  const local = unique("Replica of wanted");
  const lists = new WatchListsPage(page);
  await lists.create(local);
  await expect(page).toHaveURL(/\/watch-lists\?done=list-created$/);
  await expect(page.getByTestId("notice")).toContainText("Watch list created.");

  await page.getByRole("link", { name: "Replication" }).click();
  const replication = new ReplicationPage(page);
  await hydrated(page);
  await replication.create(LEADER, `${remote} (7 dossiers)`, local);

  // It syncs at once (SYNC_AT_CREATION) and the page follows its progress live.
  const row = replication.row(local);
  await expect(row.getByTestId("replica-state")).toHaveText("idle", { timeout: 30_000 });
  await expect(row.getByTestId("replica-last-success")).toContainText("UTC");
  await expect(row.getByTestId("replica-progress")).toContainText("7 of 7 items");

  // The replica is read-only here.
  await lists.open();
  await expect(lists.row(local).getByTestId("replica-badge")).toBeVisible();
  await expect(lists.row(local)).toContainText("7");
  await expect(lists.row(local).getByRole("link", { name: "Edit" })).toHaveCount(0);
  await lists.row(local).getByRole("link", { name: local }).click();
  await page.getByTestId("dossier-row").first().getByRole("link").first().click();
  await expect(page.getByTestId("replica-badge")).toBeVisible();
  await expect(page.getByRole("link", { name: "Edit" })).toHaveCount(0);

  // Cancel, after confirming: the list keeps its dossiers and is editable again.
  await replication.open();
  await replication.cancel(local);
  await expect(page).toHaveURL(/\/replication\?done=replica-cancelled$/);
  await expect(page.getByTestId("notice")).toContainText("Replica cancelled");
  await expect(replication.row(local)).toHaveCount(0);
  await lists.open();
  await expect(lists.row(local).getByRole("link", { name: "Edit" })).toBeVisible();
  await expect(lists.row(local)).toContainText("7");
  expect(panics).toEqual([]);
});

// A Leader list emptied by mistake must not empty the site: the run is held, nothing changes
// until an administrator decides, and the page says how many dossiers would go.
test("a run that would empty a big replica waits for an administrator", async ({ page }) => {
  test.setTimeout(120_000);
  const leader = await Api.as("admin", LEADER);
  const remote = unique("Emptied by mistake");
  const remoteId = await leader.watchList(remote);
  const ids = await leader.dossiers(unique("Listed"), 101, remoteId);

  await logIn(page, "admin");
  const local = unique("Guarded replica");
  const lists = new WatchListsPage(page);
  await lists.create(local);
  await expect(page.getByTestId("notice")).toHaveText("Watch list created.");
  const replication = new ReplicationPage(page);
  await replication.open();
  await replication.create(LEADER, `${remote} (101 dossiers)`, local);
  const row = replication.row(local);
  await expect(row.getByTestId("replica-progress")).toContainText("101 of 101 items", { timeout: 30_000 });

  // The replica's name is its own; the rest follows the Leader and the page says so.
  await lists.open();
  await lists.row(local).getByRole("link", { name: "Rename" }).click();
  await expect(page.getByTestId("leader-settings")).toContainText("follow the Leader's list");
  const renamed = unique("Guarded here");
  await page.getByLabel("Name (this installation's own)").fill(renamed);
  await hydrated(page);
  await page.getByRole("button", { name: "Rename" }).click();
  await expect(page).toHaveURL(/\/watch-lists\?done=list-renamed$/);
  await expect(page.getByTestId("notice")).toContainText("Watch list renamed.");
  await expect(lists.row(renamed).locator("td.num")).toHaveText("101");

  for (const id of ids) await leader.call("dossiers/delete", { id });
  await leader.dispose();

  await replication.open();
  const guarded = replication.row(renamed);
  await guarded.getByRole("button", { name: "Sync now" }).click();
  await expect(guarded.getByTestId("replica-state")).toHaveText("held", { timeout: 30_000 });
  await expect(guarded.getByTestId("replica-hold")).toContainText("would remove 101 of the 101 dossiers");
  await lists.open();
  await expect(lists.row(renamed).locator("td.num")).toHaveText("101");

  // Kept as it is: idle again, nothing removed.
  await replication.open();
  await guarded.getByRole("button", { name: "Keep the replica as it is" }).click();
  await expect(guarded.getByTestId("replica-state")).toHaveText("idle");
  await expect(guarded.getByTestId("replica-hold")).toHaveCount(0);

  // Asked again, then confirmed: the removals go through.
  await guarded.getByRole("button", { name: "Sync now" }).click();
  await expect(guarded.getByTestId("replica-state")).toHaveText("held", { timeout: 30_000 });
  await guarded.getByRole("button", { name: "Confirm the removals" }).click();
  await expect(guarded.getByTestId("replica-state")).toHaveText("idle", { timeout: 30_000 });
  await expect(guarded.getByTestId("replica-hold")).toHaveCount(0);
  await lists.open();
  await expect(lists.row(renamed).locator("td.num")).toHaveText("0");
});
