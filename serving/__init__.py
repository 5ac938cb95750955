"""The BentoML scoring service (`serving.service:LeadScoring`): request/response schemas, CRM
payload adapters, auth and settings. Imports `features` and `models`, never `training`."""
