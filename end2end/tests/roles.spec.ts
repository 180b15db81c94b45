import { expect, test } from "@playwright/test";
import { Api, DossiersPage, hydrated, logIn, unique, UsersPage, WatchListsPage } from "./pages";

test("a User sees everything and can change nothing", async ({ page }) => {
  const api = await Api.as("operator");
  const list = unique("Visible list");
  const listId = await api.watchList(list);
  const prefix = unique("Visible person");
  const [dossier] = await api.dossiers(prefix, 1, listId);
  await api.photo(dossier);
  await api.dispose();

  await logIn(page, "viewer");
  await expect(page.getByTestId("whoami")).toHaveText("viewer (User)");
  const lists = new WatchListsPage(page);
  await expect(lists.row(list)).toBeVisible();
  await expect(page.getByRole("link", { name: "New watch list" })).toHaveCount(0);
  await expect(page.getByRole("link", { name: "Edit" })).toHaveCount(0);
  await expect(page.getByRole("link", { name: "Users" })).toHaveCount(0);

  const dossiers = new DossiersPage(page);
  await dossiers.open(`?q=${encodeURIComponent(prefix)}`);
  await expect(dossiers.rows()).toHaveCount(1);
  await expect(page.getByRole("link", { name: "New dossier" })).toHaveCount(0);
  await dossiers.rows().first().getByRole("link").first().click();
  await expect(page.getByTestId("gallery")).toBeVisible();
  await expect(page.getByRole("link", { name: "Edit" })).toHaveCount(0);
  await expect(page.getByText("Remove…")).toHaveCount(0);
  await expect(page.getByTestId("photo-upload")).toHaveCount(0);

  // Even the form itself, reached by its address, is refused by the server.
  await page.goto("/watch-lists/new");
  await hydrated(page);
  await page.getByLabel("Name").fill("Not allowed");
  await page.getByRole("button", { name: "Create" }).click();
  await expect(page.getByRole("alert")).toContainText("your group (User) may not create watch lists");

  await page.goto("/users");
  await expect(page.getByRole("alert")).toContainText("your group (User) may not manage users");
});

test("an Administrator creates a user and issues an API token", async ({ page, request }) => {
  await logIn(page, "admin");
  await page.getByRole("link", { name: "Users" }).click();
  const users = new UsersPage(page);
  await hydrated(page);
  const username = `guard${Date.now().toString(36)}`;
  await users.create(username, "guard-password", "Operator");
  await expect(users.row(username)).toBeVisible();
  const token = await users.issueToken(username);
  expect(token).toMatch(/^[0-9a-f]{64}$/);

  const answer = await request.post("/api/auth/me", {
    headers: { Authorization: `Token ${token}`, "Content-Type": "application/json" },
    data: {},
  });
  expect(answer.ok()).toBe(true);
  expect((await answer.json()).username).toBe(username);
});
