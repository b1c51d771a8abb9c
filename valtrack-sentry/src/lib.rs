//! valtrack-sentry (grows in later issues).
