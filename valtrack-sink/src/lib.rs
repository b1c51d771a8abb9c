//! valtrack-sink (grows in later issues).
