import { expect, test } from "@playwright/test";
import { Api, hydrated, LEADER, logIn, LoginPage, PASSWORD, unique, UsersPage, WatchListsPage } from "./pages";

test("the header names the installation, and each action is confirmed with or without JavaScript", async ({
  browser,
  page,
}) => {
  await logIn(page, "operator");
  await expect(page.getByTestId("site")).toHaveText(/^127\.0\.0\.1:\d+$/);
  await expect(page.getByTestId("site")).toHaveAttribute("title", /127\.0\.0\.1:\d+ · (no replicated lists|holds \d+ replicated lists?)/);
  const lists = new WatchListsPage(page);
  await lists.create(unique("Confirmed"));
  await expect(page.getByTestId("notice")).toHaveText("Watch list created.");

  const context = await browser.newContext({ javaScriptEnabled: false });
  const plain = await context.newPage();
  const login = new LoginPage(plain);
  await login.open();
  await expect(plain.getByTestId("site")).toHaveText(/127\.0\.0\.1:\d+$/);
  await login.submit("operator");
  await plain.goto("/watch-lists/new");
  await plain.getByLabel("Name").fill(unique("Without JavaScript"));
  await plain.getByRole("button", { name: "Create" }).click();
  await expect(plain.getByTestId("notice")).toHaveText("Watch list created.");

  // Refused, it comes back with the error and with what was typed.
  const kept = unique("Kept as typed");
  await plain.goto("/watch-lists/new");
  await plain.getByLabel("Name").fill(kept);
  await plain.getByLabel(/Confidence threshold/).fill("1.5");
  await plain.getByRole("button", { name: "Create" }).click();
  await expect(plain.locator('[data-field="confidence_threshold"]')).toContainText("from 0 to 1");
  await expect(plain.getByLabel("Name")).toHaveValue(kept);
  await expect(plain.getByLabel(/Confidence threshold/)).toHaveValue("1.5");
  await context.close();
});

test("an administrator reads who changed what, and from where, in the audit log", async ({ page }) => {
  const operator = await Api.as("operator");
  const name = unique("Audited");
  await operator.watchList(name);
  await operator.dispose();

  await logIn(page, "admin");
  await page.getByRole("link", { name: "Audit log" }).click();
  await page.getByLabel("Who").fill("operator");
  await page.locator('select[name="subject_kind"]').selectOption("watch_list");
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(page).toHaveURL(/actor=operator/);
  const entry = page.getByTestId("audit-entry").filter({ hasText: name }).first();
  await expect(entry).toContainText("operator");
  await expect(entry).toContainText("127.0.0.1");
  await expect(entry).toContainText("create");
});

test("a locked login says when to try again, and an administrator clears the lock", async ({ page }) => {
  test.setTimeout(60_000);
  const admin = await Api.as("admin");
  const username = unique("guard").replace(/ /g, "-");
  await admin.call("users/create", { username, password: PASSWORD, group: "User" });
  await admin.dispose();

  // Six wrong passwords, one after the other: the sixth locks the account.
  for (let attempt = 1; attempt <= 6; attempt++) {
    const answer = await page.request.post("/api/auth/login", {
      headers: { "Content-Type": "application/json" },
      data: { username, password: "not-the-password" },
    });
    expect(answer.status()).toBe(401);
  }
  const login = new LoginPage(page);
  await login.open();
  await hydrated(page);
  await login.submit(username, PASSWORD);
  await expect(login.error()).toContainText(/try again in \d+ (seconds|minutes)/);

  const other = await page.context().browser()!.newContext();
  const adminPage = await other.newPage();
  await logIn(adminPage, "admin");
  const users = new UsersPage(adminPage);
  await users.open();
  const lock = adminPage.getByTestId("login-lock").filter({ hasText: `account ${username.toLowerCase()}` });
  await expect(lock).toContainText("UTC");
  await lock.getByRole("button", { name: "Clear" }).click();
  await expect(adminPage.getByTestId("notice")).toContainText("Login lock cleared");
  await other.close();

  await login.open();
  await hydrated(page);
  await login.submit(username, PASSWORD);
  await expect(page.getByTestId("whoami")).toContainText(username);
});

test("the replication page gives the schedule in words, and a replicated dossier cannot be deleted while its Leader answers", async ({
  page,
}) => {
  test.setTimeout(90_000);
  const leader = await Api.as("admin", LEADER);
  const remote = await leader.watchList(unique("Kept on the Leader"));
  await leader.dossiers(unique("Kept"), 1, remote);
  await leader.dispose();
  const admin = await Api.as("admin");
  const local = await admin.watchList(unique("Kept here"));
  await admin.call("replication/create", { remote_url: LEADER, remote_dossier_list: remote, slave_dossier_list: local });
  let found: { dossiers: { id: number }[] } = { dossiers: [] };
  await expect
    .poll(
      async () => {
        found = await admin.call("dossiers/search", { watch_list: local });
        return found.dossiers.length;
      },
      { timeout: 30_000 },
    )
    .toBe(1);
  const dossier = found.dossiers[0].id;
  await admin.dispose();

  await logIn(page, "admin");
  await page.goto("/replication");
  await expect(page.getByTestId("schedule")).toContainText("every day at 03:00 (UTC)");
  await expect(page.getByTestId("schedule")).toContainText("next runs");
  await expect(page.getByTestId("replica-leader").filter({ hasText: "Kept on the Leader" }).first()).toBeVisible();

  await page.goto(`/dossiers/${dossier}`);
  await expect(page.getByTestId("replica-badge")).toBeVisible();
  await expect(page.getByRole("link", { name: "Delete" })).toHaveCount(0);
  await page.goto(`/dossiers/${dossier}/delete`);
  await expect(page.getByTestId("not-deletable")).toContainText("reachable");
  await expect(page.getByRole("button", { name: "Delete" })).toHaveCount(0);
});
