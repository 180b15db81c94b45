import { expect, test } from "@playwright/test";
import { hydrated, logIn, LoginPage } from "./pages";

test("strangers are sent to the login page", async ({ page }) => {
  await page.goto("/dossiers");
  await expect(page).toHaveURL(/\/login$/);
  await expect(page.getByRole("heading", { name: "Log in" })).toBeVisible();
});

test("a wrong password is refused with a message", async ({ page }) => {
  const login = new LoginPage(page);
  await login.open();
  await hydrated(page);
  await login.submit("admin", "not-the-password");
  await expect(login.error()).toContainText("wrong username or password");
  await expect(page).toHaveURL(/\/login$/);
});

test("log in and out", async ({ page }) => {
  await logIn(page, "admin");
  await expect(page.getByRole("heading", { name: "Watch lists" })).toBeVisible();
  // Logging out is in the user's own menu, under their name.
  await page.getByTestId("me-menu").click();
  await page.getByRole("button", { name: "Log out", exact: true }).click();
  await expect(page).toHaveURL(/\/login$/);
  await page.goto("/watch-lists");
  await expect(page).toHaveURL(/\/login$/);
});

test("the login form works before the WASM loads", async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  const login = new LoginPage(page);
  await login.open();
  await login.submit("viewer");
  await expect(page.getByTestId("whoami")).toContainText("viewer (User)");
  await context.close();
});
