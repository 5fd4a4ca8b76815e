"""Sign-ups with capacity and waiting lists, proxy sign-up, invitation answers (RSVP),
attendance and QR check-in, and the host rotation of joint meetings."""
