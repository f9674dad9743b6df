//! The messages this service writes: plain text and the same in HTML. Links point at the web
//! app's pages (served from the issuer's origin), which call the API with the token.

use super::{html_escape, Kind, Message};

/// The web-app route of the verification link.
pub const VERIFY_PATH: &str = "/verify-email";
/// The web-app route of the password-reset link.
pub const RESET_PATH: &str = "/reset-password";

fn link(issuer: &str, path: &str, token: &str) -> String {
    format!("{}{path}?token={token}", issuer.trim_end_matches('/'))
}

fn html(paragraphs: &[&str], link: Option<(&str, &str)>) -> String {
    let mut out = String::from("<!doctype html><html><body>");
    for p in paragraphs {
        out.push_str("<p>");
        out.push_str(&html_escape(p));
        out.push_str("</p>");
    }
    if let Some((href, label)) = link {
        let href = html_escape(href);
        out.push_str(&format!(
            "<p><a href=\"{href}\">{}</a></p><p>{href}</p>",
            html_escape(label)
        ));
    }
    out.push_str("</body></html>");
    out
}

/// The link proving `to` belongs to the account (sign-up and re-send).
pub fn verification(issuer: &str, overseer_id: &str, to: &str, token: &str) -> Message {
    let url = link(issuer, VERIFY_PATH, token);
    let intro = "Please confirm that this is your e-mail address for Agent-ID.";
    let expiry = "The link works once, for 24 hours. If you did not sign up, ignore this e-mail.";
    Message {
        kind: Kind::EmailVerification,
        overseer_id: Some(overseer_id.to_owned()),
        to: to.to_owned(),
        subject: "Confirm your e-mail address".to_owned(),
        text: format!("{intro}\n\n{url}\n\n{expiry}\n"),
        html: html(&[intro, expiry], Some((&url, "Confirm my address"))),
    }
}

/// The one-time reset link. `overseer_id` is `None` for an address with no account: the
/// message is built (and discarded by its guard) all the same.
pub fn password_reset(issuer: &str, overseer_id: Option<&str>, to: &str, token: &str) -> Message {
    let url = link(issuer, RESET_PATH, token);
    let intro = "Somebody asked to reset the password of your Agent-ID account.";
    let expiry = "The link works once, for 30 minutes. If it was not you, ignore this e-mail: \
                  your password stays as it is.";
    Message {
        kind: Kind::PasswordReset,
        overseer_id: overseer_id.map(str::to_owned),
        to: to.to_owned(),
        subject: "Reset your password".to_owned(),
        text: format!("{intro}\n\n{url}\n\n{expiry}\n"),
        html: html(&[intro, expiry], Some((&url, "Choose a new password"))),
    }
}

/// The notice that the password was reset (every session was ended).
pub fn password_reset_done(overseer_id: &str, to: &str) -> Message {
    let lines = [
        "The password of your Agent-ID account was just reset, and every session was signed out.",
        "If this was not you, reset your password again at once and review your account's activity.",
    ];
    Message {
        kind: Kind::PasswordChanged,
        overseer_id: Some(overseer_id.to_owned()),
        to: to.to_owned(),
        subject: "Your password was reset".to_owned(),
        text: format!("{}\n\n{}\n", lines[0], lines[1]),
        html: html(&lines, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_carry_the_token_to_the_web_app() {
        let m = verification("https://id.example.com/", "o1", "a@example.com", "TOK");
        assert!(m
            .text
            .contains("https://id.example.com/verify-email?token=TOK"));
        assert!(m
            .html
            .contains("href=\"https://id.example.com/verify-email?token=TOK\""));
        let r = password_reset("https://id.example.com", None, "a@example.com", "T2");
        assert!(r.text.contains("/reset-password?token=T2"));
        assert_eq!(r.overseer_id, None);
    }
}
