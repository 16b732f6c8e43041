from django.core.management.base import BaseCommand

from citizenpoints.services.badges import badges_evaluate_all
from citizenpoints.services.scoring import scoring_age


class Command(BaseCommand):
    help = "Run the nightly pass now: age points out of the window, re-tier, award badges."

    def handle(self, *args, **options):
        result = scoring_age()
        result["badges_granted"] = badges_evaluate_all()
        self.stdout.write(", ".join(f"{key}: {value}" for key, value in result.items()))
