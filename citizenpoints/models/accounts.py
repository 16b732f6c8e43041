from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils.translation import gettext_lazy as _


class OfficeRole(models.TextChoices):
    """Credit office roles; each is a Django group of the same name, created by a migration."""

    CATALOGUE_EDITOR = "catalogue_editor", _("Catalogue editor")
    REVIEWER = "reviewer", _("Reviewer")
    PARTNER_MANAGER = "partner_manager", _("Partner manager")
    DATA_SOURCE_MANAGER = "data_source_manager", _("Data-source manager")
    AUDITOR = "auditor", _("Auditor")


OFFICE_ROLE_NAMES = frozenset(OfficeRole.values)


class EmailUserManager(UserManager):
    """Users sign in with their email address; there is no username."""

    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)


class User(AbstractUser):
    username = None
    email = models.EmailField(_("email address"), unique=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = []

    objects = EmailUserManager()

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.email

    @property
    def office_roles(self) -> set[str]:
        # The groups loaded with the user (citizenpoints.auth_backends) are read without building a related manager:
        # the header asks this on every page. Django drops them when groups are added or removed.
        groups = getattr(self, "_prefetched_objects_cache", {}).get("groups")
        names = {group.name for group in (self.groups.all() if groups is None else groups)}
        return names & OFFICE_ROLE_NAMES

    @property
    def is_office_staff(self) -> bool:
        """Anyone who can act in the credit office: they must use two-factor authentication."""
        return self.is_staff or self.is_superuser or bool(self.office_roles)

    @property
    def is_partner_staff(self) -> bool:
        """Has a partner staff row (the header's Counter link). Read with the user at sign-in when it was loaded by
        citizenpoints.auth_backends; otherwise one query. A plain bool: `user.merchant_staff` in a template raises
        for everyone else, and the template engine answers that by listing the user's attributes (dir()), every
        page."""
        facts = getattr(self, "_account_facts", None)
        if facts is not None:
            return facts.partner_staff
        return type(self).merchant_staff.related.related_model.objects.filter(user=self).exists()
