import { expect, test } from "@playwright/test";
import { Api, hydrated, LEADER, logIn, LoginPage, ReplicationPage, unique } from "./pages";

// scripts/test.sh starts a Leader at LEADER_ADDR beside the server under test (the Subscriber).
// A match at the Subscriber on a replicated list reaches the Leader by itself, with the site's
// name and the face; acknowledged on the Leader, the Subscriber's copy says who.
test("a Subscriber's match shows on the Leader, and its acknowledgement comes back", async ({ page, browser }) => {
  test.setTimeout(120_000);
  const leader = await Api.as("admin", LEADER);
  const remote = unique("Wanted everywhere");
  const remoteId = (await leader.call("watch-lists/create", { name: remote, active: true, acknowledge: true, notify: true })).id;
  // Biden: the other specs enrol Obama at the Subscriber, and an event is the best match of all
  // its lists; nobody there resembles Biden but this replica.
  const name = unique("Joe Biden");
  const [dossier] = await leader.dossiers(name, 1, remoteId);
  await leader.photo(dossier, "biden.jpg");

  const site = await Api.as("admin");
  const local = unique("Wanted here");
  const localId = await site.watchList(local);
  await logIn(page, "admin");
  const replication = new ReplicationPage(page);
  await replication.open();
  await hydrated(page);
  await replication.create(LEADER, `${remote} (1 dossier)`, local);
  await expect(replication.row(local).getByTestId("replica-state")).toHaveText("idle", { timeout: 30_000 });

  // The site's camera sees him (once the site's face index has the replica: within a second).
  const camera = unique("site-door");
  await expect(async () => {
    const seen = await site.event(camera, "biden.jpg");
    expect(seen.events[0].matched?.watch_list_id).toBe(localId);
  }).toPass({ timeout: 15_000 });

  // On the Leader, within seconds: the match, the site it came from, the face.
  const context = await browser.newContext({ baseURL: LEADER });
  const atLeader = await context.newPage();
  const login = new LoginPage(atLeader);
  await login.open();
  await login.submit("admin");
  await expect(atLeader.getByTestId("me-menu")).toBeVisible();
  const row = atLeader.getByTestId("event").filter({ hasText: camera });
  await expect(async () => {
    await atLeader.goto(`/events?camera=${encodeURIComponent(camera)}`);
    await expect(row).toHaveCount(1, { timeout: 1000 });
  }).toPass({ timeout: 20_000 });
  await expect(row).toContainText(name);
  await expect(row.getByTestId("event-site")).toContainText("at ");
  await expect(row.getByRole("img", { name: "Face seen" })).toHaveJSProperty("complete", true);

  // Acknowledged on the Leader: the site's copy follows.
  await row.getByRole("button", { name: "Acknowledge" }).click();
  await expect(atLeader.getByTestId("notice")).toHaveText("Event acknowledged.");
  await expect(async () => {
    await page.goto(`/events?camera=${encodeURIComponent(camera)}`);
    await expect(page.getByTestId("event").first().getByTestId("acknowledgement")).toContainText("admin ·", { timeout: 1000 });
  }).toPass({ timeout: 20_000 });

  // The Leader's Sites page lists the site with nothing waiting; its Replication page, the
  // site's own account of what it sent.
  await atLeader.getByRole("link", { name: "Sites" }).click();
  const siteRow = atLeader.getByTestId("site-row").first();
  await expect(siteRow.getByTestId("backlog")).toHaveText("0");
  await expect(siteRow).toContainText(remote);
  await replication.open();
  await expect(page.getByTestId("hit-leader").filter({ hasText: LEADER }).getByTestId("pending")).toHaveText("0");

  // Gone again, so that Biden stays a stranger to the specs after this one.
  await replication.cancel(local);
  await expect(page.getByTestId("notice")).toContainText("Replica cancelled");
  await site.call("watch-lists/delete", { id: localId });
  await site.dispose();
  await context.close();
  await leader.dispose();
});
