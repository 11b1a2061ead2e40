"""The pages a real service has beside its work: about, help, privacy, terms, contact, the
glossary of the statistical words the findings use, robots.txt and the favicon."""
