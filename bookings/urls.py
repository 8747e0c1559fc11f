from django.urls import path
from rest_framework.routers import SimpleRouter

from bookings import api, booking_api

router = SimpleRouter()
router.register("bookings", booking_api.BookingViewSet, basename="booking")

urlpatterns = [
    # Before any bookings/<id>/ route, which would otherwise read "slots" as an id.
    path("bookings/slots/", api.SlotsView.as_view(), name="booking-slots"),
    path("clinicians/<int:pk>/booking-policy/", api.BookingPolicyView.as_view(), name="booking-policy"),
    path(
        "clinicians/<int:pk>/availability-windows/", api.AvailabilityWindowsView.as_view(), name="availability-windows"
    ),
    path(
        "clinicians/<int:pk>/availability-windows/<int:window_id>/",
        api.AvailabilityWindowView.as_view(),
        name="availability-window",
    ),
    path(
        "clinicians/<int:pk>/availability-exceptions/",
        api.AvailabilityExceptionsView.as_view(),
        name="availability-exceptions",
    ),
    path(
        "clinicians/<int:pk>/availability-exceptions/<int:exception_id>/",
        api.AvailabilityExceptionView.as_view(),
        name="availability-exception",
    ),
    *router.urls,
]
